"""Shared pieces of the asv suite: every benchmark is a thin layer over secfwt's workloads.

Base classes start with an underscore: asv skips such names, so they are not benchmarks themselves.

Imports of secfwt happen inside functions, so the suite imports with any version of the
package under test; seeds are parameters of the workloads, fixed in ``FIXED`` dicts.
"""

LINKS = ("lan", "wan200", "wan100")


def measure_grid(workload, names, values_lists, fixed):
    """Run each combination once as a real 2PC run; return {param tuple: record}."""
    import itertools

    from secfwt.links import parse_links
    from secfwt.runner import run_one

    links = parse_links(list(LINKS))
    out = {}
    for combo in itertools.product(*values_lists):
        rec = run_one(workload, {**fixed, **dict(zip(names, combo))}, links)
        if rec["status"] == "error":
            raise RuntimeError(rec["error"])
        out[combo] = rec
    return out


class _CostTracks:
    """``track_*`` of a cached grid of records: exact counts and estimated seconds per link.

    Subclasses set ``workload``, ``params``, ``param_names`` and ``FIXED``, and define their own
    ``setup_cache`` returning ``self.measure()``: asv keys a setup_cache by its position in the
    source, so one inherited from here would be shared by every subclass."""

    workload = None
    FIXED: dict = {}
    timeout = 1800

    def measure(self):
        return measure_grid(self.workload, self.param_names, self.params, self.FIXED)

    def track_online_rounds(self, cache, *params):
        return cache[params]["rounds"]

    track_online_rounds.unit = "rounds"

    def track_online_bytes(self, cache, *params):
        return cache[params]["bytes"]

    track_online_bytes.unit = "bytes"

    def track_offline_bytes(self, cache, *params):
        return cache[params]["offline_bytes"]

    track_offline_bytes.unit = "bytes"

    def track_est_s_lan(self, cache, *params):
        return cache[params]["est_s"]["lan"]

    track_est_s_lan.unit = "seconds"

    def track_est_s_wan200(self, cache, *params):
        return cache[params]["est_s"]["wan200"]

    track_est_s_wan200.unit = "seconds"

    def track_est_s_wan100(self, cache, *params):
        return cache[params]["est_s"]["wan100"]

    track_est_s_wan100.unit = "seconds"

    def track_max_abs_err(self, cache, *params):
        return cache[params]["max_abs_err"]

    track_max_abs_err.unit = "abs error"


class _WholeRun:
    """``time_run``: wall time of one complete 2PC run (processes, TCP set-up, work, check)."""

    workload = None
    FIXED: dict = {}
    number = 1
    repeat = 1
    timeout = 600

    def setup(self, *params):
        from secfwt.links import parse_links

        self.links = parse_links("lan")

    def time_run(self, *params):
        from secfwt.runner import run_one

        run_one(self.workload, {**self.FIXED, **dict(zip(self.param_names, params))}, self.links)
