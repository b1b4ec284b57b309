"""Synthetic records for tests of the gate and the report (no MPC run)."""


def rec(workload="op", params=None, rounds=1, nbytes=8192, status="ok", **extra):
    """A finished MPC record with the counters the gate reads; ``extra`` adds or overrides fields."""
    return {"workload": workload, "params": params or {"op": "mul", "size": 16, "seed": 0}, "provider": "ttp",
            "world_size": 2, "status": status, "rounds": rounds, "bytes": nbytes, "offline_rounds": 3,
            "offline_bytes": 100, "duplex_bytes": nbytes / 2, **extra}
