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

* ``fourier`` GeLU (:class:`FourierGelu`, beyond the paper): GeLU(x) = x (1/2 + S(x)) with
  S(x) = sum_k c_k sin((2k-1) pi x / (2L)), the odd-harmonic series of Phi(x) - 1/2 on
  [-L, L] mirrored about +-L (period 4L; least-squares coefficients weighted by |x|, so
  they bound GeLU's error, not Phi's).  All K harmonics come from ONE opening of the trig
  protocol (:func:`secfwt.mpc.cosine.sine_series`), then one Beaver product: 2 rounds and
  48 bytes per element online, against tanh's ~26 rounds and 832 bytes (1,760 clamped).
  No data-dependent clamp: its cost does not depend on the weights.  Range: the mirror
  keeps S = 1/2 - (1 - Phi(2L - x)) for L < x < 2L, so GeLU holds to 1e-5 for
  |x| <= ``range`` = 2L - 5 (L = 22, K = 32: |x| <= 39, covering pretrained MiniLM's FFN
  inputs, whose largest on real SST-2/AG News sentences is 24.7 and calibrated with margin
  35.6).  Beyond the range the mirror bends back: at |x| = 2L the output is x/2, at 3L it is
  0 - wrong, not saturated; :class:`secfwt.nn.encoder.MPCEncoder` refuses a model whose
  calibrated GeLU inputs exceed it.

Where the cost is paid: GeLU (tanh) = clamp (2 comparisons) + a cube (2 multiplications) +
tanh (comparison, exp, reciprocal); GeLU (fourier) = one trig opening + one product (under
autograd two products in that round, x S and x S', and a backward of one product);
LayerNorm = a square for the variance + inv_sqrt (exp + 3 Newton steps; ``fast``: a shorter exp and
2-round Newton steps, see :data:`INV_SQRTS`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import torch

from ..mpc import cosine
from ..mpc.compat import crypten
from ..mpc.meter import scope
from ..mpc.util import register_autograd, register_inv_sqrt_autograd
from ..variants import GELUS, INV_SQRTS

SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


register_inv_sqrt_autograd()


GELU_CLAMP = 5.0


#: without the clamp, inputs up to this magnitude are safe: 2|u| <= 49, far below 256, and
#: a cube of at most 512 fails local truncation with probability ~512 * 2^-32 per element
GELU_SAFE = 8.0


def tanh_gelu(x, clamp: bool = True):
    """tanh-form GeLU on a CrypTen tensor; ``clamp`` takes the cube of the clamped input
    (two comparisons), needed only when inputs can exceed ``GELU_SAFE`` in magnitude."""
    xc = x.hardtanh(-GELU_CLAMP, GELU_CLAMP) if clamp else x
    inner = (xc + xc.square().mul(xc).mul(0.044715)).mul(SQRT_2_OVER_PI)
    return x.mul(inner.tanh().add(1)).mul(0.5)


@dataclass(frozen=True)
class FourierGelu:
    """GeLU(x) = x (1/2 + sum_k c_k sin((2k-1) pi x / (2L))): one trig opening + one product."""

    half_period: float = 22.0  # L: the series fits Phi(x) - 1/2 on [-L, L]
    harmonics: int = 32  # K odd harmonics 1, 3, ..., 2K-1

    @property
    def range(self) -> float:
        """|x| up to which the error stays ~1e-5 (the mirror image of Phi's tail beyond L)."""
        return 2.0 * self.half_period - 5.0

    @property
    def w(self) -> float:
        return math.pi / (2.0 * self.half_period)

    @property
    def orders(self) -> tuple[int, ...]:
        return tuple(2 * k + 1 for k in range(self.harmonics))

    @cached_property
    def coefficients(self) -> tuple[float, ...]:
        """Least squares of x (Phi(x) - 1/2 - S(x)) on [0, L] (S is odd: the fit holds on [-L, L])."""
        x = torch.linspace(0.0, self.half_period, 20001, dtype=torch.float64)
        basis = torch.sin(torch.outer(x, torch.tensor(self.orders, dtype=torch.float64)) * self.w)
        target = torch.special.ndtr(x) - 0.5
        weight = x.clamp(min=1.0).unsqueeze(1)
        coeffs = torch.linalg.lstsq(basis * weight, target.unsqueeze(1) * weight).solution
        return tuple(coeffs.squeeze(1).tolist())

    def mpc(self, x):
        """GeLU of a CrypTen tensor; differentiable (CrypTen's autograd) when x requires a gradient."""
        if crypten.CrypTensor.AUTOGRAD_ENABLED and getattr(x, "requires_grad", False):
            return x.secfwt_fourier_gelu(self)  # registered below (_fourier_gelu_forward)
        series = cosine.sine_series(x, self.w, self.orders, self.coefficients)
        return x * series.add(0.5)

    def mpc_with_slope(self, x):
        """(GeLU(x), GeLU'(x)) of a plain MPCTensor: GeLU' = 1/2 + S(x) + x S'(x), S' from the forward's
        own trig opening and dealt cos(k t), sin(k t).  Online: the one opening, then x S(x) and x S'(x)
        as two Beaver products in one round - no second trig opening."""
        series, slope = cosine.sine_series(x, self.w, self.orders, self.coefficients, derivative=True)
        both = crypten.stack([series, slope]) * crypten.stack([x, x])  # one round for both products
        return both[0] + x.mul(0.5), both[1] + series.add(0.5)

    def plain(self, x: torch.Tensor) -> torch.Tensor:
        """The same function in plaintext.  float64 (parity checks): the series itself.  float32
        (the long tuning runs): on the range the series differs from exact GeLU by < 1e-5, less
        than float32's own rounding of the series (2e-5), so exact GeLU is evaluated there (14x
        faster) and the series only beyond the range, where the two differ."""
        if x.dtype == torch.float64:
            return self.series(x)
        out = torch.nn.functional.gelu(x)
        beyond = x.abs() > self.range
        if beyond.any():
            out[beyond] = self.series(x[beyond])
        return out

    def series(self, x: torch.Tensor) -> torch.Tensor:
        """x (1/2 + S(x)) by the recurrence sin((2k+3)t) = 2 cos(2t) sin((2k+1)t) - sin((2k-1)t)."""
        theta = x * self.w
        two_cos = 2.0 * torch.cos(2.0 * theta)
        prev, cur = -torch.sin(theta), torch.sin(theta)
        total = torch.zeros_like(x)
        for c in self.coefficients:
            total = total + c * cur
            prev, cur = cur, two_cos * cur - prev
        return x * (0.5 + total)


FOURIER_GELU = FourierGelu()


def _fourier_gelu_forward(ctx, input, gelu):
    """``x.secfwt_fourier_gelu(gelu)`` under CrypTen's autograd: keeps GeLU'(x) (see
    :meth:`FourierGelu.mpc_with_slope`) for the backward, one Beaver product g * GeLU'(x)."""
    out, slope = gelu.mpc_with_slope(input)
    ctx.save_for_backward(slope)
    return out


def _fourier_gelu_backward(ctx, grad_output):
    (slope,) = ctx.saved_tensors
    return grad_output * slope


register_autograd("secfwt_fourier_gelu", _fourier_gelu_forward, _fourier_gelu_backward)



def gelu(x, variant: str = "tanh", clamp: bool = True):
    """GeLU on a CrypTen tensor by ``variant`` (see :data:`GELUS`); ``clamp`` is tanh's only."""
    if variant == "fourier":
        return FOURIER_GELU.mpc(x)
    if variant != "tanh":
        raise ValueError(f"unknown gelu {variant!r}; choose one of {', '.join(GELUS)}")
    return tanh_gelu(x, clamp=clamp)


#: the plaintext reference both variants approximate: GeLU with the exact erf (the checkpoints')
EXACT_GELU = "exact"


def plain_gelu(x: torch.Tensor, variant: str = "tanh") -> torch.Tensor:
    """The plaintext twin of :func:`gelu` (the same function, in x's dtype), or ``EXACT_GELU``."""
    if variant == "fourier":
        return FOURIER_GELU.plain(x)
    if variant == EXACT_GELU:
        return torch.nn.functional.gelu(x)
    return 0.5 * x * (1.0 + torch.tanh(SQRT_2_OVER_PI * (x + 0.044715 * x**3)))




def inv_sqrt(x, variant: str = "crypten"):
    """x^-1/2 on a CrypTen tensor by ``variant`` (see :data:`INV_SQRTS`); differentiable either way."""
    if variant == "fast":
        return x.inv_sqrt_fast()
    if variant != "crypten":
        raise ValueError(f"unknown inv_sqrt {variant!r}; choose one of {', '.join(INV_SQRTS)}")
    return x.inv_sqrt()


def layer_norm(x, weight, bias, eps: float, scale: float = 1.0, inv_sqrt_variant: str = "crypten"):
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
