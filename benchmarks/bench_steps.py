"""One tuning step of each method on a tiny model, and one encoder block forward/backward."""

from secfwt.nn import attention as attn

from .common import _CostTracks, _WholeRun


class TuningStep(_CostTracks):
    workload = "step"
    params = (["sft", "prompt", "lora", "fot"],)
    param_names = ["method"]
    FIXED = {"model": "tiny", "seq": 32, "batch": 2, "optimizer": "adam", "population": 4, "seed": 0}

    def setup_cache(self):
        return self.measure()


class FotAttention(_CostTracks):
    workload = "step"
    params = (list(attn.PAPER_PAIR), ["batched", "sequential"])
    param_names = ["attention", "fot_mode"]
    FIXED = {"model": "tiny", "seq": 32, "batch": 2, "method": "fot", "population": 4, "seed": 0}

    def setup_cache(self):
        return self.measure()


class EncoderBlock(_CostTracks):
    workload = "block"
    params = ([False, True],)
    param_names = ["backward"]
    FIXED = {"model": "small", "seq": 64, "seed": 0}

    def setup_cache(self):
        return self.measure()


class TuningStepRun(_WholeRun):
    workload = "step"
    params = (["sft", "fot"],)
    param_names = ["method"]
    FIXED = {"model": "tiny", "seq": 32, "batch": 2, "seed": 0}
