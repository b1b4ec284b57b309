"""The suite's own overhead per point: cold runs (fresh processes per point) against the warm pool
(secfwt.mpc.pool), measured side by side in one run.  Times are this machine's; the ratio is what
compares branches."""

POINTS = {
    "op mul size=16": ("op", {"op": "mul", "size": 16}),
    "attention softmax-stable seq=32": ("attention", {"impl": "softmax-stable", "seq": 32, "heads": 4,
                                                      "head_dim": 32, "features": 32}),
}
#: points per measurement: the first warm point pays the pool's start, the rest show its steady state
REPEATS = 4


class SuiteOverhead:
    """Wall seconds per point, cold and warm, and the warm share of cold, for one cheap point each."""

    params = (list(POINTS),)
    param_names = ["point"]
    timeout = 1200

    def setup_cache(self):
        import time

        from secfwt.links import parse_links
        from secfwt.mpc import pool
        from secfwt.runner import run_one

        links = parse_links(["lan"])
        out = {}
        for name, (workload, params) in POINTS.items():
            t0 = time.perf_counter()
            for _ in range(REPEATS):
                run_one(workload, params, links)
            cold = (time.perf_counter() - t0) / REPEATS
            with pool.warm():
                run_one(workload, params, links)  # the pool's start, not a steady-state point
                t0 = time.perf_counter()
                for _ in range(REPEATS):
                    run_one(workload, params, links)
                warm = (time.perf_counter() - t0) / REPEATS
            out[name] = {"cold_s": cold, "warm_s": warm}
        return out

    def track_cold_seconds_per_point(self, cache, point):
        return cache[point]["cold_s"]

    def track_warm_seconds_per_point(self, cache, point):
        return cache[point]["warm_s"]

    def track_warm_share_of_cold(self, cache, point):
        return cache[point]["warm_s"] / cache[point]["cold_s"]

    track_cold_seconds_per_point.unit = track_warm_seconds_per_point.unit = "seconds"
    track_warm_share_of_cold.unit = "ratio"
