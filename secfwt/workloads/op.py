"""Workload ``op``: one CrypTen operation on secret-shared size x size inputs (the meter's
cross-checks and micro-benchmarks), checked against the same operation in float64.

The party-side functions import torch and CrypTen when called: the declaration is read without them.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..variants import OPS
from .base import Param, Workload, register, seed_param


@dataclass
class State:
    p: dict
    plain: tuple  # (x, y)
    shared: tuple  # (x, y) secret-shared


def functions(op: str) -> tuple:
    """(the MPC function, the plaintext function) of one operation (names: :data:`secfwt.variants.OPS`)."""
    import torch

    table = {
        "mul": (lambda x, y: x * y, lambda x, y: x * y),
        "matmul": (lambda x, y: x.matmul(y), lambda x, y: x @ y),
        "softmax": (lambda x, y: x.softmax(-1), lambda x, y: torch.softmax(x, -1)),
    }
    assert tuple(table) == OPS
    return table[op]


def setup(p: dict) -> State:
    import torch

    from ..mpc.util import share_from_owner

    g = torch.Generator().manual_seed(p["seed"])
    shape = (p["size"], p["size"])
    x, y = torch.randn(shape, generator=g), torch.randn(shape, generator=g)
    return State(p, (x, y), (share_from_owner(x), share_from_owner(y)))


def run(s: State):
    from ..mpc.compat import crypten

    with crypten.no_grad():
        return functions(s.p["op"])[0](*s.shared)


def check(s: State, out) -> dict:
    """The largest and the mean absolute error: the mean sums every element's rounding, so two runs
    with different masks differ in it even where their largest errors fall on the same fixed-point step."""
    from ..mpc.util import max_abs_err, reveal_float

    want = functions(s.p["op"])[1](*(t.double() for t in s.plain))
    got = reveal_float(out)  # one opening for both errors
    return {"max_abs_err": max_abs_err(got, want), "mean_abs_err": (got.double() - want).abs().mean().item()}


WORKLOAD = register(Workload(
    name="op",
    description="one CrypTen operation on secret-shared size x size inputs (meter cross-checks)",
    params=(
        Param("op", str, "mul", "operation", choices=OPS),
        Param("size", int, 16, "side of the square inputs", positive=True, maximum=2048),
        seed_param(0, "input seed"),
    ),
    setup=setup, run=run, check=check, tolerance=1e-2, checks=("max_abs_err", "mean_abs_err"),
))
