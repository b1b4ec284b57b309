"""pytest-benchmark micro-benchmarks of the MPC kernels (``make micro``; skipped by ``make test``).

Each benchmark times one whole two-party run (processes, TCP set-up, the kernel, the check)
and stores the kernel's exact counts and estimated seconds per link in ``extra_info``, so
``pytest-benchmark compare`` on two saved runs shows both.
"""

import pytest

from secfwt.links import PROFILES
from secfwt.runner import run_one

LINKS = list(PROFILES.values())

KERNELS = {
    "trig-onepass": ("trig", {"impl": "onepass", "size": 4096}),
    "trig-builtin": ("trig", {"impl": "builtin", "size": 4096}),
    **{f"attention-{v}": ("attention", {"impl": v, "seq": 128, "heads": 4, "head_dim": 32, "features": 32})
       for v in ("softmax-stock", "softmax-stable", "rfa-builtin", "rfa-onepass")},
    "block-forward": ("block", {"model": "small", "seq": 64}),
    "block-forward-backward": ("block", {"model": "small", "seq": 64, "backward": True}),
}


@pytest.mark.parametrize("kernel", sorted(KERNELS))
def test_kernel(benchmark, kernel):
    workload, params = KERNELS[kernel]
    record = benchmark.pedantic(run_one, args=(workload, params, LINKS), rounds=2, iterations=1, warmup_rounds=0)
    assert record["status"] in ("ok", "inaccurate"), record.get("error")
    benchmark.extra_info.update({
        "workload": workload, "params": record["params"], "provider": record["provider"],
        "rounds": record["rounds"], "bytes": record["bytes"], "offline_bytes": record["offline_bytes"],
        "compute_s": record["compute_s"], "kernel_wall_s": record["wall_s"],
        **{f"est_s_{k}": v for k, v in record["est_s"].items()}, "max_abs_err": record["max_abs_err"],
    })
