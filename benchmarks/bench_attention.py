"""Attention core in 2PC: softmax vs random-feature attention over sequence length."""

from secfwt.nn import attention as attn

from .common import _CostTracks, _WholeRun

VARIANTS = list(attn.VARIANTS)


class AttentionCore(_CostTracks):
    workload = "attention"
    params = (VARIANTS, [32, 64, 128])
    param_names = ["impl", "seq"]
    FIXED = {"heads": 4, "head_dim": 32, "features": 32, "seed": 0}

    def setup_cache(self):
        return self.measure()


class AttentionRun(_WholeRun):
    workload = "attention"
    params = (VARIANTS,)
    param_names = ["impl"]
    FIXED = {"seq": 64, "heads": 4, "head_dim": 32, "features": 32, "seed": 0}
