"""Transformer layers CrypTen lacks (LayerNorm, GeLU), built from CrypTen tensor ops.

* GeLU uses the tanh form 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))): CrypTen's
  ``erf`` is wrong (erf(2) comes out far from 1).  CrypTen's tanh goes through
  exp(-2|u|), computed as (1 - 2|u|/256)^256, which is garbage once 2|u| > 256 (|x| >
  ~6.5), and the cube of a large x also risks local-truncation failure.  Where the model
  owner's calibration (:func:`secfwt.nn.encoder.calibrate`) sees FFN inputs (times a
  margin of 1.5) beyond +-8 (pretrained MiniLM reaches +-22; random RoBERTa stays within
  +-3), the cube
  is taken of x clamped to [-5, 5] (``hardtanh``: two comparisons, about doubling the
  GeLU's bytes); for |x| > 5 the tanh is +-1 to within 5e-8, so the clamp changes
  nothing else.  The tanh form differs from the exact erf GeLU by less than 1e-3.
* LayerNorm needs ``inv_sqrt`` of the variance, which has no autograd in CrypTen 0.4.1;
  :func:`secfwt.mpc.util.register_inv_sqrt_autograd` registers one (d/dx x^-1/2 = -x^-3/2 / 2).  CrypTen's inv_sqrt
  is accurate on about [0.1, 100]; LayerNorm is scale-invariant, so each LayerNorm's
  input is multiplied by a public ``scale`` (calibrated by the model owner on public
  synthetic input, :func:`secfwt.nn.encoder.calibrate`) that centres its
  variances in that range (a local multiplication).  This also keeps the squares
  small, away from truncation failure.

Where the cost is paid: GeLU = clamp (2 comparisons) + a cube (2 multiplications) +
tanh (comparison, exp, reciprocal); LayerNorm = a square for the variance + inv_sqrt
(exp + 3 Newton steps).
"""

from __future__ import annotations

import math

from ..mpc.compat import crypten
from ..mpc.meter import scope
from ..mpc.util import register_inv_sqrt_autograd

SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


register_inv_sqrt_autograd()


GELU_CLAMP = 5.0


#: without the clamp, inputs up to this magnitude are safe: 2|u| <= 49, far below 256, and
#: a cube of at most 512 fails local truncation with probability ~512 * 2^-32 per element
GELU_SAFE = 8.0


def gelu(x, clamp: bool = True):
    """tanh-form GeLU on a CrypTen tensor; ``clamp`` takes the cube of the clamped input
    (two comparisons), needed only when inputs can exceed ``GELU_SAFE`` in magnitude."""
    xc = x.hardtanh(-GELU_CLAMP, GELU_CLAMP) if clamp else x
    inner = (xc + xc.square().mul(xc).mul(0.044715)).mul(SQRT_2_OVER_PI)
    return x.mul(inner.tanh().add(1)).mul(0.5)


def layer_norm(x, weight, bias, eps: float, scale: float = 1.0):
    """LayerNorm over the last axis; ``weight``/``bias`` are CrypTen tensors of shape [H].
    ``scale`` is the public pre-scale that keeps the variance in inv_sqrt's range."""
    with scope("layernorm"):
        if scale != 1.0:
            x = x.mul(scale)  # public: local multiplication and truncation
        centred = x - x.mean(-1, keepdim=True)
        var = centred.square().mean(-1, keepdim=True)
        return centred * (var + eps * scale * scale).inv_sqrt() * weight + bias


def linear(x, weight_t, bias):
    """x @ W^T + b with the weight stored transposed ([in, out])."""
    out = x.matmul(weight_t)
    return out + bias if bias is not None else out


def cat(tensors, dim):
    return crypten.cat(tensors, dim=dim)
