"""Attention core in 2PC: softmax vs random-feature attention over sequence length.

Counts (rounds, bytes) are exact; ``est_s_*`` apply the suite's time model to the
measured compute time; ``time_*`` times one whole 2PC run (process start included).
"""

from .common import measure_grid

FIXED = {"heads": 4, "head_dim": 32, "features": 32, "seed": 0}


class AttentionCore:
    params = (["softmax-stock", "rfa-builtin"], [32, 64, 128])
    param_names = ["impl", "seq"]
    timeout = 600

    def setup_cache(self):
        return measure_grid("attention", self.param_names, self.params, FIXED)

    def track_online_rounds(self, cache, impl, seq):
        return cache[(impl, seq)]["rounds"]

    track_online_rounds.unit = "rounds"

    def track_online_bytes(self, cache, impl, seq):
        return cache[(impl, seq)]["bytes"]

    track_online_bytes.unit = "bytes"

    def track_offline_bytes(self, cache, impl, seq):
        return cache[(impl, seq)]["offline_bytes"]

    track_offline_bytes.unit = "bytes"

    def track_est_s_lan(self, cache, impl, seq):
        return cache[(impl, seq)]["est_s"]["lan"]

    track_est_s_lan.unit = "seconds"

    def track_est_s_wan200(self, cache, impl, seq):
        return cache[(impl, seq)]["est_s"]["wan200"]

    track_est_s_wan200.unit = "seconds"

    def track_est_s_wan100(self, cache, impl, seq):
        return cache[(impl, seq)]["est_s"]["wan100"]

    track_est_s_wan100.unit = "seconds"

    def track_max_abs_err(self, cache, impl, seq):
        return cache[(impl, seq)]["max_abs_err"]

    track_max_abs_err.unit = "abs error"


class AttentionRun:
    """Wall time of one complete 2PC run (3 processes, TCP set-up, measured work, check)."""

    params = (["softmax-stock", "rfa-builtin"],)
    param_names = ["impl"]
    number = 1
    repeat = 1
    timeout = 300

    def setup(self, impl):
        from secfwt.links import parse_links

        self.links = parse_links("lan")

    def time_run(self, impl):
        from secfwt.runner import run_one

        run_one("attention", {"impl": impl, "seq": 64, **FIXED}, self.links)
