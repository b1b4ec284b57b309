"""Import shim so CrypTen 0.4.1 loads on current PyTorch.

CrypTen 0.4.1's ONNX converter does ``from torch.onnx._internal.registration
import registry`` at import time, a private module that PyTorch 2.x removed.
The suite never uses the ONNX converter (it builds its models from tensor ops),
so we register an empty stand-in module before CrypTen is imported.  Nothing of
CrypTen is copied; if the real module exists it is used untouched.

The same converter imports ``onnx`` at import time, which imports ``ml_dtypes``: 0.5 s of CPU in
every party, dealer and data-owner process, a quarter of its start-up, for a converter the suite
never calls.  While CrypTen is imported, ``onnx`` and ``onnx.numpy_helper`` are deferred modules
that import the real ones at their first attribute use; afterwards ``onnx`` imports as usual.
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


class _Deferred(types.ModuleType):
    """A module that imports the real one (of the same name) at its first attribute use."""

    def __getattr__(self, attr: str):
        if attr.startswith("__"):  # the import system's probes (__path__, __spec__ ...): not a use
            raise AttributeError(attr)
        if sys.modules.get(self.__name__) is self:
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), attr)


#: the modules CrypTen's ONNX converter binds at import time (``import onnx``, ``from onnx import numpy_helper``)
_DEFERRED = ("onnx", "onnx.numpy_helper")


def import_crypten():
    """Return the ``crypten`` module, importable on torch 2.13 (and without importing ONNX)."""
    _install_onnx_registration_stub()
    if "crypten" in sys.modules or "onnx" in sys.modules:
        import crypten

        return crypten
    deferred = {name: _Deferred(name) for name in _DEFERRED}
    deferred["onnx"].numpy_helper = deferred["onnx.numpy_helper"]
    sys.modules.update(deferred)
    try:
        import crypten  # noqa: WPS433 (import after the shim on purpose)
    finally:
        for name, module in deferred.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]
    return crypten


crypten = import_crypten()
