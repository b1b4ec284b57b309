"""Named benchmark profiles: which workloads and parameter grids a `secfwt bench` runs."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Sweep:
    workload: str
    grid: dict  # parameter name -> list of values

    def size(self) -> int:
        n = 1
        for values in self.grid.values():
            n *= len(values)
        return n


PROFILES: dict[str, dict] = {
    "quick": {
        "description": "CI profile: attention softmax vs RFA over sequence length, plus single ops "
                       "(a few minutes on 2 cores)",
        "links": ["lan", "wan200", "wan100"],
        "sweeps": [
            Sweep("op", {"op": ["mul", "matmul", "softmax"], "size": [16]}),
            Sweep("attention", {"impl": ["softmax-stock", "rfa-builtin"], "seq": [32, 64, 128, 256],
                                "heads": [4], "head_dim": [32], "features": [32]}),
        ],
    },
}


def get_profile(name: str) -> dict:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}") from None
