"""One tuning run's configuration and how each method is tuned: plain data, no torch (the ``tune``
workload's parameters take their defaults from here)."""

from __future__ import annotations

from dataclasses import dataclass

from .. import variants as attn
from ..variants import FOT, GELU, LORA, PROMPT, SFT, method

#: How each method is tuned: Adam's learning rate and the batch of a gradient method (FoT: CMA-ES
#: over the whole training set, neither).  What a method trains is its registry entry's
#: (:data:`secfwt.variants.METHOD_REGISTRY`).
TUNERS = {
    FOT: {"lr": None, "batch": None},
    SFT: {"lr": 2e-5, "batch": 8},
    PROMPT: {"lr": 1e-2, "batch": 8},
    LORA: {"lr": 1e-3, "batch": 8},
}


@dataclass(frozen=True)
class TuneConfig:
    """One tuning run; ``budget`` counts units (generations for fot, steps otherwise)."""

    task: str = "sst2"
    method: str = FOT
    seed: int = 13
    attention: str = attn.SOFTMAX
    gelu: str = GELU.default
    budget: int = 25
    eval_every: int = 5
    prompt_tokens: int = 8
    intrinsic_dim: int = 500
    population: int = 20
    features: int = 64
    test_rows: int = 0  # 0: the whole test split

    @property
    def lr(self):
        return TUNERS[self.method]["lr"]

    @property
    def batch(self):
        return TUNERS[self.method]["batch"]

    def uses_prompt(self) -> bool:
        return method(self.method).prompt
