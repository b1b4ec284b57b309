"""Everything that knows CrypTen's internals lives in this package."""

from .compat import crypten  # noqa: F401  (importing secfwt.mpc makes crypten importable)

#: the suite's own protocols that need dealer material: module -> what it adds to CrypTen's
#: TTP and TFP providers (each module's ``install()`` registers it; idempotent)
PROTOCOL_MODULES = {
    "cosine": "the one-round trig mask: T and [cos kt, sin kt] per harmonic",
    "persistent": "persistent Beaver masks of fixed operands: B once per run, (A, C = A B) per product",
}


def install_protocols() -> None:
    """Register every protocol of :data:`PROTOCOL_MODULES` with CrypTen's providers."""
    import importlib

    for name in PROTOCOL_MODULES:
        importlib.import_module(f"{__name__}.{name}").install()
