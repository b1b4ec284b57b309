"""One tuning step of each method on a tiny model, and one encoder block forward/backward."""

from secfwt.nn import attention as attn
from secfwt.variants import FOT, METHODS, SFT

from .common import _CostTracks, _WholeRun


class TuningStep(_CostTracks):
    workload = "step"
    params = (list(METHODS),)
    param_names = ["method"]
    FIXED = {"model": "tiny", "seq": 32, "batch": 2, "optimizer": "adam", "population": 4, "seed": 0}

    def setup_cache(self):
        return self.measure()


class FotAttention(_CostTracks):
    workload = "step"
    params = (list(attn.PAPER_PAIR), ["batched", "sequential"])
    param_names = ["attention", "fot_mode"]
    FIXED = {"model": "tiny", "seq": 32, "batch": 2, "method": FOT, "population": 4, "seed": 0}

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
    params = ([SFT, FOT],)
    param_names = ["method"]
    FIXED = {"model": "tiny", "seq": 32, "batch": 2, "seed": 0}
