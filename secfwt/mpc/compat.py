"""Import shim so CrypTen 0.4.1 loads on current PyTorch.

CrypTen 0.4.1's ONNX converter does ``from torch.onnx._internal.registration
import registry`` at import time, a private module that PyTorch 2.x removed.
The suite never uses the ONNX converter (it builds its models from tensor ops),
so we register an empty stand-in module before CrypTen is imported.  Nothing of
CrypTen is copied; if the real module exists it is used untouched.
"""

from __future__ import annotations

import importlib
import sys
import types

_MISSING = "torch.onnx._internal.registration"


def _install_onnx_registration_stub() -> None:
    try:
        importlib.import_module(_MISSING)
    except ModuleNotFoundError:
        stub = types.ModuleType(_MISSING)
        stub.registry = None  # only read by crypten.nn.from_onnx, which we never call
        stub.__doc__ = "secfwt stand-in: CrypTen's ONNX import path is unsupported here."
        sys.modules[_MISSING] = stub


def import_crypten():
    """Return the ``crypten`` module, importable on torch 2.13."""
    _install_onnx_registration_stub()
    import crypten  # noqa: WPS433 (import after the shim on purpose)

    return crypten


crypten = import_crypten()
