"""The truncation-failure diagnostic over a FoT forward: the expected count of CrypTen's two-party
truncation failures per scope, for one CMA-ES candidate over a task's training rows (the hook that
adds |x| / 2^64 up is :func:`secfwt.mpc.truncation.truncation_budget`).

    python -m secfwt.truncation --task mrpc --seq 56 --rows 8     # JSON on stdout

(Outputs in ``reports/diagnostics/`` made before this module moved name ``python -m
secfwt.mpc.truncation``: the same code.)
"""

from __future__ import annotations

import argparse
import json
import sys


def expected_failures(params: dict) -> dict:
    """Party side: one candidate's forward over ``params["train_rows"]`` examples; per scope, the
    expected number of truncation failures (rank 0 returns it)."""
    from .mpc.compat import crypten
    from .mpc.meter import Meter
    from .mpc.truncation import truncation_budget
    from .nn import encoder as enc
    from .tuning import mpc_fot, runs

    p = params
    model = mpc_fot._model(p)
    tokenizer = enc.minilm_tokenizer()
    mpc, _ = mpc_fot._encoder(p, model, tokenizer)
    batch = mpc_fot._batches(p, tokenizer)["train"]
    cfg = mpc_fot.config(p)
    prompt = runs.BlackBoxPrompt(cfg, model).prompts(runs.cma_strategy(cfg).ask()[:1])[0]  # a first-generation candidate
    meter = Meter()  # for its scope names only
    with crypten.no_grad():
        inputs = mpc.share_inputs(batch)
        shared_prompt = crypten.cryptensor(prompt.float(), src=0)
        with truncation_budget(lambda: meter.path) as (budget, elements), meter:
            mpc.forward(batch, shared_prompt, inputs)
    return {"rows": batch.n_rows, "examples": batch.size, "seq": p["seq"], "layers": model.config.num_hidden_layers,
            "expected_failures": sum(budget.values()), "truncated_elements": sum(elements.values()),
            "by_scope": {k: {"expected": v, "elements": elements[k]} for k, v in sorted(budget.items())}}


def main(argv=None) -> int:
    from . import workloads
    from .mpc.parties import Task, run_parties
    from .results import code_version, environment

    ap = argparse.ArgumentParser(prog="python -m secfwt.truncation", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--task", default="sst2")
    ap.add_argument("--seq", type=int, default=48)
    ap.add_argument("--rows", type=int, default=8, help="training examples (a pair is two rows)")
    ap.add_argument("--layers", type=int, default=-1)
    ap.add_argument("--prompt-tokens", type=int, default=8)
    ap.add_argument("--attention", default="softmax-stable")
    args = ap.parse_args(argv)
    params = workloads.get("fot-mpc").resolve({
        "task": args.task, "seq": args.seq, "train_rows": args.rows, "layers": args.layers,
        "prompt_tokens": args.prompt_tokens, "attention": args.attention, "population": 20, "intrinsic_dim": 500})
    out = run_parties(Task("secfwt.truncation:expected_failures", {"params": params}), timeout=3600)[0]
    print(json.dumps({"command": "python -m secfwt.truncation " + " ".join(argv if argv is not None else sys.argv[1:]),
                      "params": params, **out, "expected_failures_per_row": out["expected_failures"] / out["rows"],
                      "env": environment(), "code_version": code_version(("mpc", "nn"))}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
