"""Whole few-shot tuning runs (plaintext twin of the MPC encoder) on a small budget: the final
test accuracy each method reaches, so that a branch that breaks learning shows in asv compare;
and the FoT-in-MPC parity run with a separate data owner (counts and agreement)."""

from secfwt.nn import attention as attn
from secfwt.variants import FOT, LORA, PROMPT, SFT

from .common import _CostTracks, measure_grid


class TuneAccuracy:
    """track_ of the accuracy a short run reaches on SST-2 (16-shot, seed 13, 128 test rows)."""

    params = ([FOT, SFT, PROMPT, LORA],)
    param_names = ["method"]
    FIXED = {"task": "sst2", "seed": 13, "population": 8, "intrinsic_dim": 100, "test_rows": 128}
    BUDGET = {FOT: 5, SFT: 20, PROMPT: 20, LORA: 20}  # generations (FoT) or steps
    timeout = 1800

    def setup_cache(self):
        out = {}
        for method in self.params[0]:
            params = {**self.FIXED, "method": method, "budget": self.BUDGET[method],
                      "eval_every": self.BUDGET[method]}
            out[(method,)] = measure_grid("tune", ["method"], [[method]], params)[(method,)]
        return out

    def track_final_accuracy(self, cache, method):
        return cache[(method,)]["final_acc"]

    track_final_accuracy.unit = "accuracy"

    def track_accuracy_gain(self, cache, method):
        return cache[(method,)]["final_acc"] - cache[(method,)]["start_acc"]

    track_accuracy_gain.unit = "accuracy"


class FotInMpc(_CostTracks):
    """Three FoT generations in 2PC with the data owner as its own process (MiniLM, 2 blocks)."""

    workload = "fot-mpc"
    params = (list(attn.PAPER_PAIR),)
    param_names = ["attention"]
    FIXED = {"layers": 2, "generations": 3, "population": 4, "train_rows": 4, "test_rows": 8, "seq": 32}

    def setup_cache(self):
        return self.measure()

    def track_test_agreement(self, cache, attention):
        return cache[(attention,)]["test_agreement"]

    track_test_agreement.unit = "fraction"
