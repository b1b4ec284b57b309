"""Everything that knows CrypTen's internals lives in this package."""

from .compat import crypten  # noqa: F401  (importing secfwt.mpc makes crypten importable)
