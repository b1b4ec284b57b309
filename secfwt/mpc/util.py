"""Small CrypTen helpers used outside the measured region."""

from __future__ import annotations

import torch


def reveal_float(x) -> torch.Tensor:
    """Open a CrypTen tensor to every party and decode it exactly.

    ``get_plain_text()`` decodes some negative values one unit too low in CrypTen
    0.4.1; opening the ring element and dividing by the encoder's scale is exact.
    """
    ring = x.reveal()
    return ring.double() / float(x.encoder.scale)


def assign_(target, value) -> None:
    """Overwrite a (leaf) CrypTen tensor's shares in place, keeping its autograd identity:
    how the optimisers update parameters without creating new leaves."""
    target._tensor = value._tensor


def register_inv_sqrt_autograd() -> None:
    """CrypTen 0.4.1 has no autograd for ``inv_sqrt`` (LayerNorm needs it): register one,
    d/dx x^-1/2 = -x^-3/2 / 2, through CrypTen's own registry (idempotent)."""
    from crypten.gradients import FUNCTION_REGISTRY, AutogradFunction, register_function

    if "inv_sqrt" in FUNCTION_REGISTRY:
        return

    @register_function("inv_sqrt")
    class AutogradInvSqrt(AutogradFunction):  # noqa: F841 (registered by the decorator)
        @staticmethod
        def forward(ctx, input):
            out = input.inv_sqrt()
            ctx.save_for_backward(out)
            return out

        @staticmethod
        def backward(ctx, grad_output):
            (out,) = ctx.saved_tensors
            return out.square().mul(out).mul(grad_output).div(-2)
