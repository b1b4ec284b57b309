"""SecFwT's one-round cosine/sine against CrypTen's cossin."""

from .common import _CostTracks


class Trig(_CostTracks):
    workload = "trig"
    params = (["onepass", "builtin"], [1.0, 6.283185307179586])
    param_names = ["impl", "w"]
    FIXED = {"size": 4096, "range": 10.0, "seed": 0}

    def setup_cache(self):
        return self.measure()
