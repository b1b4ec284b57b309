"""Workload ``trig``: cos and sin of w*x on secret-shared x ~ U(-range, range), SecFwT's one-round
protocol (:mod:`secfwt.mpc.cosine`) against CrypTen's cossin, checked against float64.

The party-side functions import torch and CrypTen when called: the declaration is read without them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .base import Param, Workload, register, seed_param

if TYPE_CHECKING:
    import torch


@dataclass
class State:
    """Uniform inputs (also the ``gelu`` workload's)."""

    p: dict
    plain: torch.Tensor  # x in float64
    shared: object  # x secret-shared


def setup(p: dict) -> State:
    """``size`` values x ~ U(-range, range), seeded, shared by party 0."""
    import torch

    from ..mpc.util import share_from_owner

    g = torch.Generator().manual_seed(p["seed"])
    x = (torch.rand(p["size"], generator=g, dtype=torch.float64) * 2 - 1) * p["range"]
    return State(p, x, share_from_owner(x))


def run(s: State):
    from ..mpc import cosine
    from ..mpc.compat import crypten

    x, w = s.shared, s.p["w"]
    with crypten.no_grad():
        if s.p["impl"] == "onepass":
            return cosine.cossin(x, w)
        return (x * w if w != 1.0 else x).cossin()


def check(s: State, out) -> dict:
    """Against float64 on the input as the parties hold it, so the error is the protocol's own."""
    import torch

    from ..mpc.util import max_abs_err, reveal_float

    x, w = s.plain, s.p["w"]
    cos, sin = (reveal_float(t) for t in out)
    return {"max_abs_err": max(max_abs_err(cos, torch.cos(w * x)), max_abs_err(sin, torch.sin(w * x)))}


WORKLOAD = register(Workload(
    name="trig",
    description="cos and sin of w*x on secret-shared x ~ U(-range, range): SecFwT's one-round protocol "
                "(impl=onepass) against CrypTen's cossin (impl=builtin)",
    params=(
        Param("impl", str, "onepass", "protocol", choices=("onepass", "builtin")),
        Param("size", int, 4096, "number of input elements", positive=True, maximum=16777216),
        Param("w", float, 1.0, "public frequency w (accepts pi, 2pi)", aliases={"pi": repr(math.pi),
                                                                              "2pi": repr(2 * math.pi)},
              minimum=-1e4, maximum=1e4),
        Param("range", float, 10.0, "x is drawn from U(-range, range)", positive=True, maximum=1e4),
        seed_param(0, "input seed"),
    ),
    setup=setup, run=run, check=check, tolerance=1e-3,
))
