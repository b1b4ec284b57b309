"""Named benchmark profiles: which workloads and parameter grids `secfwt bench` runs.

``seconds_per_run`` is a rough guide measured on a 2-core machine (process start
included) so that ``secfwt list --profile X`` can say roughly how long X takes.
"""

from __future__ import annotations

from dataclasses import dataclass

ATTENTION_VARIANTS = ["softmax-stock", "softmax-stable", "rfa-builtin", "rfa-onepass"]


@dataclass(frozen=True)
class Sweep:
    workload: str
    grid: dict  # parameter name -> list of values
    seconds_per_run: float = 4.0

    def size(self) -> int:
        n = 1
        for values in self.grid.values():
            n *= len(values)
        return n


PROFILES: dict[str, dict] = {
    "quick": {
        "description": "CI profile: single ops, the trig protocols, and the four attention variants "
                       "over L = 32..256 on a small config",
        "links": ["lan", "wan200", "wan100"],
        "sweeps": [
            Sweep("op", {"op": ["mul", "matmul", "softmax"], "size": [16]}, 3),
            Sweep("trig", {"impl": ["onepass", "builtin"], "w": [1.0], "size": [4096]}, 3),
            Sweep("attention", {"impl": ATTENTION_VARIANTS, "seq": [32, 64, 128, 256],
                                "heads": [4], "head_dim": [32], "features": [32]}, 4),
        ],
    },
    "attention": {
        "description": "the secure-RFA sweep: trig protocols; attention variants over L = 32..512 for "
                       "RoBERTa-large heads (16 x 64) and a small config (4 x 32); RFA error over D = 16..256",
        "links": ["lan", "wan200", "wan100"],
        "sweeps": [
            Sweep("trig", {"impl": ["onepass", "builtin"], "w": [1.0, "2pi"], "size": [4096]}, 3),
            Sweep("attention", {"impl": ATTENTION_VARIANTS, "seq": [32, 64, 128, 256, 512],
                                "heads": [4], "head_dim": [32], "features": [64]}, 6),
            Sweep("attention", {"impl": ATTENTION_VARIANTS, "seq": [32, 64, 128, 256, 512],
                                "heads": [16], "head_dim": [64], "features": [64]}, 25),
            Sweep("attention", {"impl": ["rfa-builtin", "rfa-onepass"], "seq": [128],
                                "heads": [4], "head_dim": [32], "features": [16, 32, 64, 128, 256]}, 4),
        ],
    },
}


def get_profile(name: str) -> dict:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; known: {', '.join(PROFILES)}") from None


def estimated_minutes(profile: dict) -> float:
    return sum(s.size() * s.seconds_per_run for s in profile["sweeps"]) / 60.0
