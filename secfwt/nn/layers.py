"""Transformer layers CrypTen lacks (LayerNorm, GeLU), built from CrypTen tensor ops.

* GeLU: one approximation per module of :mod:`secfwt.nn.gelus` (tanh form, Fourier series, ...),
  registered in :data:`secfwt.variants.GELU`; :func:`gelu` and :func:`plain_gelu` are re-exported here.
* LayerNorm needs ``inv_sqrt`` of the variance, which has no autograd in CrypTen 0.4.1;
  :func:`secfwt.mpc.util.register_inv_sqrt_autograd` registers one (d/dx x^-1/2 = -x^-3/2 / 2).  CrypTen's inv_sqrt
  is accurate on about [0.1, 100]; LayerNorm is scale-invariant, so each LayerNorm's
  input is multiplied by a public ``scale`` (calibrated by the model owner on public
  synthetic input, :func:`secfwt.nn.encoder.calibrate`) that centres its
  variances in that range (a local multiplication).  This also keeps the squares
  small, away from truncation failure.

Where the cost is paid: LayerNorm = a square for the variance + inv_sqrt (exp + 3 Newton steps; ``fast``: a shorter exp and
2-round Newton steps, see :data:`secfwt.variants.INV_SQRT`).
"""

from __future__ import annotations

from ..mpc.compat import crypten
from ..mpc.meter import scope
from ..mpc.util import register_inv_sqrt_autograd
from ..variants import GELUS, INV_SQRT, INV_SQRTS  # noqa: F401  (GELUS re-exported)
from .gelus import EXACT_GELU, gelu, plain_gelu  # noqa: F401  (re-exported)

register_inv_sqrt_autograd()


def inv_sqrt(x, variant: str = INV_SQRT.default):
    """x^-1/2 on a CrypTen tensor by ``variant`` (see :data:`secfwt.variants.INV_SQRT`); differentiable
    either way."""
    INV_SQRT.option(variant)
    return x.inv_sqrt() if variant == INV_SQRT.default else x.inv_sqrt_fast()


def layer_norm(x, weight, bias, eps: float, scale: float = 1.0, inv_sqrt_variant: str = INV_SQRT.default):
    """LayerNorm over the last axis; ``weight``/``bias`` are CrypTen tensors of shape [H].
    ``scale`` is the public pre-scale that keeps the variance in inv_sqrt's range."""
    with scope("layernorm"):
        if scale != 1.0:
            x = x.mul(scale)  # public: local multiplication and truncation
        centred = x - x.mean(-1, keepdim=True)
        var = centred.square().mean(-1, keepdim=True)
        return centred * inv_sqrt(var + eps * scale * scale, inv_sqrt_variant) * weight + bias


def cat(tensors, dim):
    return crypten.cat(tensors, dim=dim)
