"""How often CrypTen's two-party truncation fails in a FoT forward: the expected count, measured.

Two-party CrypTen truncates every product locally (SecureML's truncation): each party divides its
own share by 2^16.  A truncated ring element x (a product, at scale 2^32) comes out off by +-2^32
with probability |x| / 2^64 (``tests/test_encoder.py`` measures that rate).  Over a forward, the
expected number of such failures is the sum of |x| / 2^64 over every element it truncates.  A
failure corrupts the candidate whose row it hits: its loss comes back off by ~1e9.

This diagnostic opens each value just before it is truncated (extra openings: a measurement, not
the protocol; never in a benchmark record) and adds |x| / 2^64 up per scope of the forward, for
one CMA-ES candidate over a task's training rows at the public padded length.

    python -m secfwt.mpc.truncation --task mrpc --seq 56 --rows 8     # JSON on stdout
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections import defaultdict


@contextlib.contextmanager
def truncation_budget(path=lambda: ""):
    """While active, every truncation (CrypTen's ``div_`` by a public integer) first opens the value
    it truncates and adds |x| / 2^64, its failure probability, to ``budget[path()]``; ``elements``
    counts the truncated elements.  Yields (budget, elements)."""
    import torch

    from .compat import crypten

    ast = crypten.mpc.primitives.arithmetic.ArithmeticSharedTensor
    real = ast.div_
    budget: dict = defaultdict(float)
    elements: dict = defaultdict(int)

    def div_(self, y):
        if isinstance(y, int) or (torch.is_tensor(y) and not y.is_floating_point()):  # a truncation
            x = self.reveal()  # the diagnostic's own opening: the ring value about to be truncated
            budget[path()] += x.double().abs().sum().item() / 2.0**64
            elements[path()] += x.numel()
        return real(self, y)

    ast.div_ = div_
    try:
        yield budget, elements
    finally:
        ast.div_ = real


def expected_failures(params: dict) -> dict:
    """Party side: one candidate's forward over ``params["train_rows"]`` examples; per scope, the
    expected number of truncation failures (rank 0 returns it)."""
    from ..nn import encoder as enc
    from ..tuning import mpc_fot, runs
    from .compat import crypten
    from .meter import Meter

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
    from .. import workloads
    from ..results import code_version, environment
    from .parties import Task, run_parties

    ap = argparse.ArgumentParser(prog="python -m secfwt.mpc.truncation", description=__doc__,
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
    out = run_parties(Task("secfwt.mpc.truncation:expected_failures", {"params": params}), timeout=3600)[0]
    print(json.dumps({"command": "python -m secfwt.mpc.truncation " + " ".join(argv if argv is not None else sys.argv[1:]),
                      "params": params, **out, "expected_failures_per_row": out["expected_failures"] / out["rows"],
                      "env": environment(), "code_version": code_version(("mpc", "nn"))}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
