"""Shared helpers for the asv suite: every benchmark is a thin layer over secfwt's workloads."""

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
