"""Workload ``layernorm``: LayerNorm over rows whose variances span [low, high], by each registered
inverse square root (:data:`secfwt.variants.INV_SQRT`), checked against float64.

The party-side functions import torch and CrypTen when called: the declaration is read without them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..variants import INV_SQRT, INV_SQRTS
from .base import Param, Workload, register, seed_param

if TYPE_CHECKING:
    import torch


@dataclass
class State:
    p: dict
    plain: torch.Tensor  # rows x hidden, float64
    shared: object


def setup(p: dict) -> State:
    """Rows of ``hidden`` values whose variances are log-uniform over [low, high]: the range the
    public pre-scale puts LayerNorm's variances in (calibrated: MiniLM spans [0.18, 63])."""
    import torch

    from ..mpc.util import share_from_owner

    g = torch.Generator().manual_seed(p["seed"])
    log_var = torch.empty(p["rows"], 1, dtype=torch.float64).uniform_(math.log(p["low"]), math.log(p["high"]),
                                                                      generator=g)
    x = torch.randn(p["rows"], p["hidden"], generator=g, dtype=torch.float64) * (log_var / 2).exp()
    return State(p, x, share_from_owner(x))


def run(s: State):
    import torch

    from ..mpc.compat import crypten
    from ..nn.layers import layer_norm

    hidden = s.p["hidden"]
    ones, zeros = crypten.cryptensor(torch.ones(hidden), src=0), crypten.cryptensor(torch.zeros(hidden), src=0)
    with crypten.no_grad():
        return layer_norm(s.shared, ones, zeros, 1e-12, inv_sqrt_variant=s.p["impl"])


def check(s: State, out) -> dict:
    """Against float64 LayerNorm: the largest absolute error, and the largest relative error of the
    normalised values (that of the inverse square root, row by row) where they are at least 0.5."""
    import torch

    from ..mpc.util import max_abs_err, reveal_float

    x = s.plain
    want = torch.nn.functional.layer_norm(x, x.shape[-1:], eps=1e-12)
    got = reveal_float(out)
    big = want.abs() >= 0.5
    return {"max_abs_err": max_abs_err(got, want),
            "max_rel_err": ((got - want)[big] / want[big]).abs().max().item()}


def _validate(p):
    if not p["low"] < p["high"]:
        raise ValueError(f"low={p['low']} must be below high={p['high']}")


WORKLOAD = register(Workload(
    name="layernorm",
    description="LayerNorm over rows whose variances span [low, high], against float64: CrypTen's inverse "
                "square root (impl=crypten) or the fast one (impl=fast: shorter exp start, 2-round Newton steps)",
    params=(
        Param("impl", str, INV_SQRT.default, "inverse square root", choices=INV_SQRTS),
        Param("rows", int, 256, "tokens (one inverse square root each)", positive=True, maximum=1048576),
        Param("hidden", int, 384, "values per token", minimum=2, maximum=65536),
        Param("low", float, 0.1, "smallest variance", positive=True, maximum=1e6),
        Param("high", float, 100.0, "largest variance", positive=True, maximum=1e6),
        seed_param(0, "input seed"),
    ),
    setup=setup, run=run, check=check, tolerance=5e-2, validate=_validate,
    checks=("max_abs_err", "max_rel_err"), scopes=("layernorm",),
))
