"""The CrypTen import shim (secfwt.mpc.compat): CrypTen loads on torch 2.13 without ONNX, and
ONNX still works for whoever uses it."""

import subprocess
import sys


def _fresh(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_crypten_loads_without_importing_onnx_and_its_converter_still_reaches_onnx():
    """Every party process imports CrypTen; its ONNX converter's ``import onnx`` cost 0.5 s of it
    (ml_dtypes).  Deferred, onnx is imported only when the converter uses it, and then for real."""
    out = _fresh(
        "import sys\n"
        "from secfwt.mpc.compat import crypten\n"
        "import crypten.nn.onnx_converter as oc\n"
        "print(sorted(m for m in ('onnx', 'ml_dtypes', 'onnx.numpy_helper') if m in sys.modules))\n"
        "print(oc.numpy_helper.to_array.__module__, oc.onnx.load.__module__)\n"
        "import onnx\n"
        "print(type(onnx).__name__, onnx.numpy_helper is sys.modules['onnx.numpy_helper'])\n")
    assert out.splitlines() == ["[]", "onnx.numpy_helper onnx", "module True"]
