"""Everything that knows CrypTen's internals lives in this package.

Importing the package loads neither torch nor CrypTen (the launcher and the command line import
:mod:`secfwt.mpc.parties` without them); modules that use CrypTen import it through
:mod:`secfwt.mpc.compat`, which makes it importable."""

#: the suite's own protocols that need dealer material: module -> what it adds to CrypTen's
#: TTP and TFP providers (each module's ``install()`` registers it; idempotent)
PROTOCOL_MODULES = {
    "cosine": "the one-round trig mask: T and [cos kt, sin kt] per harmonic",
    "lookup": "table lookups on a bounded value: A and tables indexed by top_n((X - A) 2^s) per element",
    "persistent": "persistent Beaver masks of fixed operands: B once per run, (A, C = A B) per product",
    "truncation": "the exact truncation: r, floor(r / d) and msb(r) per truncated element",
}


def install_protocols() -> None:
    """Register every protocol of :data:`PROTOCOL_MODULES` with CrypTen's providers."""
    import importlib

    for name in PROTOCOL_MODULES:
        importlib.import_module(f"{__name__}.{name}").install()
