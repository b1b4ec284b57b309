"""GeLU approximations: one module per approximation, each registered by one entry in
:data:`secfwt.variants.GELU` (its name, summary, backward and module).

A module defines ``IMPLEMENTATION``, a :class:`Gelu`: the MPC function (on a CrypTen tensor,
differentiable under CrypTen's autograd), its plaintext twin (the same function in the input's
dtype), and the input range it is valid for.  The encoder, ``block``, ``step``, ``fot-mpc``, the
``gelu`` workload and the plaintext tuning runs reach every approximation through :func:`gelu` and
:func:`plain_gelu`; nothing else names one.
"""

from __future__ import annotations

import math

import torch

from ...mpc.util import register_autograd
from ...variants import GELU


class Gelu:
    """One GeLU approximation.  ``range``: the |x| up to which it holds (the encoder refuses a model
    whose calibrated GeLU inputs exceed it); ``clamp``: an input safeguard the MPC function takes
    when the calibrated inputs need it (:meth:`clamp_for`; only the tanh form has one)."""

    range: float = math.inf

    def clamp_for(self, peak: float) -> bool:
        """Whether calibrated inputs of magnitude ``peak`` need the safeguard."""
        return False

    def mpc(self, x, clamp: bool = False):
        raise NotImplementedError

    def plain(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def with_slope(gelu, x):
    """GeLU of ``x`` under CrypTen's autograd for an approximation whose forward also yields its slope
    (``gelu.mpc_with_slope(x)`` -> (GeLU(x), GeLU'(x)), from the forward's own openings): the backward
    is then one Beaver product g * GeLU'(x)."""
    return x.secfwt_gelu_with_slope(gelu)


def _with_slope_forward(ctx, input, gelu):
    out, slope = gelu.mpc_with_slope(input)
    ctx.save_for_backward(slope)
    return out


def _with_slope_backward(ctx, grad_output):
    (slope,) = ctx.saved_tensors
    return grad_output * slope


register_autograd("secfwt_gelu_with_slope", _with_slope_forward, _with_slope_backward)


def implementation(name: str) -> Gelu:
    """The registered approximation called ``name`` (ValueError naming the choices otherwise)."""
    return GELU.option(name).implementation()


def gelu(x, variant: str = GELU.default, clamp: bool = True):
    """GeLU of a CrypTen tensor by ``variant``; ``clamp`` applies where the approximation has one."""
    return implementation(variant).mpc(x, clamp=clamp)


#: the plaintext reference every approximation is measured against: GeLU with the exact erf
EXACT_GELU = "exact"


def plain_gelu(x: torch.Tensor, variant: str = GELU.default) -> torch.Tensor:
    """The plaintext twin of :func:`gelu` (the same function, in x's dtype), or ``EXACT_GELU``."""
    if variant == EXACT_GELU:
        return torch.nn.functional.gelu(x)
    return implementation(variant).plain(x)
