"""Optimisers whose arithmetic runs in MPC on secret-shared parameters and gradients.

Gradients arrive multiplied by the public loss scale S (see :mod:`secfwt.tuning.steps`):
with 16 fractional bits, unscaled gradients (~1e-4 and below) would mostly round to 0.

* SGD: p -= lr * g / S (public scalings, no communication).  CrypTen's own SGD would
  multiply by lr / S, which rounds to 0 or 1 unit at 16 fractional bits.
* Adam: not in CrypTen 0.4.1; :class:`MPCAdam` keeps m and v as shares and does the
  paper's square root and division in MPC, on one flat vector of all trained tensors.
  Adam is invariant to the gradient's scale except through eps; the scaled domain and
  eps below keep CrypTen's sqrt and reciprocal (accurate on about [0.01, 10]) in range.
  Where the cost is paid: one square for v, CrypTen's sqrt (exp + Newton) and reciprocal
  (exp + Newton) per element, and one multiplication for the update.
"""

from __future__ import annotations

import torch

from ..mpc.compat import crypten
from ..mpc.util import assign_

OPTIMIZERS = ("sgd", "adam")
#: Adam works on g * loss_scale / ADAM_DOWNSCALE, so the largest gradients (|g| ~ 1-3 in the
#: models here) land near 10, inside CrypTen's sqrt/reciprocal range; eps is taken in that
#: domain (0.1 there is 0.1 * 256 / 1024 = 0.025 in gradient units for the default loss scale).
ADAM_DOWNSCALE = 256.0
ADAM_EPS = 0.1
ADAM_SQRT_ITERS = 10  # Newton steps for sqrt: accurate down to v ~ 1e-3 (CrypTen's default 3: ~0.1)


class MPCAdam(crypten.optim.Optimizer):
    """Adam on all trained tensors at once: gradients are flattened into one shared vector
    (local), so the optimizer's rounds do not grow with the number of tensors."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=ADAM_EPS, downscale=ADAM_DOWNSCALE):
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, downscale=downscale))
        self.t = 0
        self.m = self.v = None

    def step(self):
        self.t += 1
        group = self.param_groups[0]
        b1, b2 = group["betas"]
        params = [p for g in self.param_groups for p in g["params"] if p.grad is not None]
        with crypten.no_grad(), crypten.cfg.temp_override({"functions.sqrt_nr_iters": ADAM_SQRT_ITERS}):
            g = crypten.cat([p.grad.flatten() for p in params]).div(group["downscale"])
            # moments kept divided by (1 - beta): (1 - b2) g^2 would round to 0 at 16 bits
            if self.m is None:  # zero-initialised moments
                self.m, self.v = g, g.square()
            else:
                self.m = self.m.mul(b1).add(g)
                self.v = self.v.mul(b2).add(g.square())
            m_hat = self.m.mul((1 - b1) / (1 - b1**self.t)) if self.t > 1 else self.m
            v_hat = self.v.mul((1 - b2) / (1 - b2**self.t)) if self.t > 1 else self.v
            # denominator in [eps, ~12]; /4 puts it where CrypTen's reciprocal is accurate
            inv = v_hat.sqrt().add(group["eps"]).div(4).reciprocal().div(4)
            update = m_hat.mul(inv).mul(group["lr"])
            offset = 0
            for p in params:
                n = p.nelement()
                assign_(p, p.sub(update.narrow(0, offset, n).reshape(p.size())))
                offset += n


class MPCSGD(crypten.optim.Optimizer):
    """p -= lr * g / S: the learning rate is applied before dividing by the public loss scale,
    so neither public factor is rounded away by 16-bit fixed point.  No communication."""

    def __init__(self, params, lr, loss_scale):
        super().__init__(params, dict(lr=lr, loss_scale=loss_scale))

    def step(self):
        with crypten.no_grad():
            for group in self.param_groups:
                for p in group["params"]:
                    if p.grad is not None:
                        assign_(p, p.sub(p.grad.mul(group["lr"]).div(group["loss_scale"])))


def make_optimizer(name: str, params, lr: float, loss_scale: float = 1.0):
    if name == "sgd":
        return MPCSGD(params, lr=lr, loss_scale=loss_scale)
    if name == "adam":
        return MPCAdam(params, lr=lr)
    raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(OPTIMIZERS)}")


def plain_adam_update(grad: torch.Tensor, lr: float, betas=(0.9, 0.999), eps=ADAM_EPS,
                      loss_scale: float = 1.0) -> torch.Tensor:
    """The first Adam update from zero moments, in float64 (what MPCAdam computes at t = 1)."""
    b1, b2 = betas
    grad = grad * loss_scale / ADAM_DOWNSCALE
    m_hat = (1 - b1) * grad / (1 - b1)
    v_hat = (1 - b2) * grad**2 / (1 - b2)
    return lr * m_hat / (v_hat.sqrt() + eps)
