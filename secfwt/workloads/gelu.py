"""Workload ``gelu``: GeLU of secret-shared x ~ U(-range, range) by each registered approximation
(:data:`secfwt.variants.GELU`), optionally with its backward, checked against the exact erf GeLU.

The party-side functions import torch and CrypTen when called: the declaration is read without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..variants import GELU, GELUS
from .base import Param, Workload, register, seed_param
from .trig import State, setup

if TYPE_CHECKING:
    import torch


def _upstream(p: dict) -> torch.Tensor:
    """The upstream gradient the backward is checked with: seeded, O(1), both signs."""
    import torch

    g = torch.Generator().manual_seed(p["seed"] + 1)
    return torch.randn(p["size"], generator=g, dtype=torch.float64)


def run(s: State):
    """GeLU of the shared x; with ``backward`` also x's gradient for a seeded upstream g (scope
    ``backward``: what the backward alone costs)."""
    from ..mpc.compat import crypten
    from ..mpc.meter import scope
    from ..mpc.util import share_from_owner
    from ..nn.layers import gelu

    p = s.p
    if not p["backward"]:
        with crypten.no_grad():
            return gelu(s.shared, p["impl"], clamp=p["clamp"])
    x = s.shared.clone()
    x.requires_grad = True
    out = gelu(x, p["impl"], clamp=p["clamp"])
    upstream = share_from_owner(_upstream(p))
    with scope("backward"):
        out.backward(upstream)
    return out.detach(), x.grad


def check(s: State, out) -> dict:
    """Error against the exact (erf) GeLU, the function every variant approximates; with
    ``backward``, the gradient's error against g * GeLU'(x) of the exact GeLU (``grad_max_abs_err``)."""
    import torch

    from ..mpc.util import max_abs_err, reveal_float

    x = s.plain
    exact = torch.nn.functional.gelu(x)
    if not s.p["backward"]:
        return {"max_abs_err": max_abs_err(reveal_float(out), exact)}
    value, grad = out
    xg = x.clone().requires_grad_(True)
    torch.nn.functional.gelu(xg).backward(_upstream(s.p))
    return {"max_abs_err": max_abs_err(reveal_float(value), exact),
            "grad_max_abs_err": max_abs_err(reveal_float(grad), xg.grad)}


def _validate(p):
    if p["clamp"] and "clamp" not in GELU.option(p["impl"]).takes:
        raise ValueError(f"clamp is an option of the {', '.join(o.name for o in GELU.options if 'clamp' in o.takes)} "
                         f"GeLU; the {p['impl']} GeLU has none")


WORKLOAD = register(Workload(
    name="gelu",
    description="GeLU of secret-shared x ~ U(-range, range), against the exact erf GeLU: the tanh form "
                "(CrypTen ops, optional clamp of its cube) or the Fourier series (one trig opening + one product)",
    params=(
        Param("impl", str, "fourier", "GeLU variant", choices=GELUS),
        Param("clamp", bool, False, "tanh: clamp the cube's input to +-5 (needed beyond |x| ~ 8)"),
        Param("size", int, 4096, "number of input elements", positive=True, maximum=16777216),
        Param("range", float, 8.0, "x is drawn from U(-range, range)", positive=True, maximum=1e4),
        seed_param(0, "input seed"),
        Param("backward", bool, False, "also x's gradient for a seeded upstream gradient (its cost in scope backward)"),
    ),
    setup=setup, run=run, check=check, tolerance=1e-3, validate=_validate,
    checks=("max_abs_err", "grad_max_abs_err"), scopes=("backward",),
))
