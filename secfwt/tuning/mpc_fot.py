"""Forward-only tuning run end to end in MPC, with the data owner as its own party.

The evidence that the long plaintext-twin trajectories (:mod:`secfwt.tuning.runs`) are what
MPC computes.  Roles (SecFwT's threat model):

* **data owner** (its own process, :class:`secfwt.mpc.owner.DataOwner`): holds the sentences,
  their labels and CMA-ES.  It shares the training set's inputs (one-hot ids, key mask, pooling
  weights) once, then each generation the population's prompts; it receives the servers'
  shares of the label logits, adds them up, computes the losses and tells CMA-ES.  At the end
  it shares the test sentences and the tuned prompt and receives their logits.
* **servers** (parties 0 and 1): forward passes only.  Party 0 also plays the model owner: it
  shares the weights and the label-description embeddings (``src=0``).  The servers see the
  shapes of the data (public: padded length, rows) and nothing else.
* **dealer**: correlated randomness (TTP), as everywhere.

The data owner also runs the plaintext twin (float64) on the same prompts: not part of the
protocol, the benchmark's check.  Checked: every candidate's loss against the twin's, CMA-ES's
ranking per generation (CMA-ES is rank-based, so equal rankings mean the MPC run and the twin
follow the same trajectory), and the tuned prompt's test predictions.  The launcher audits both
channels: every opening between the servers (the meter's reveal audit) and every frame from the
data owner to each server (:func:`secfwt.mpc.owner.audit_channel`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..mpc.meter import scope
from ..nn import encoder as enc
from ..variants import FIXED_INPUT, FOT
from . import runs


def config(p: dict) -> runs.TuneConfig:
    return runs.TuneConfig(task=p["task"], method=FOT, seed=p["seed"], attention=p["attention"], gelu=p["gelu"],
                           budget=p["generations"], prompt_tokens=p["prompt_tokens"],
                           intrinsic_dim=p["intrinsic_dim"], population=p["population"])


def _model(p: dict):
    return enc.hf_model("minilm", layers=None if p["layers"] < 0 else p["layers"])


def _batches(p: dict, tokenizer=None):
    """Training and test batches at the public padded length ``seq`` (texts truncated to fit).
    Without a tokenizer (the servers' view) nothing is read: zero ids of the public shape."""
    from .. import data as fewshot

    task = fewshot.get_task(p["task"])
    prompt = p["prompt_tokens"]
    out = {}
    for split, n in (("train", p["train_rows"]), ("test", p["test_rows"])):
        if tokenizer is None:
            shape = (n * (2 if task.pair else 1), p["seq"])
            out[split] = enc.Batch(torch.zeros(shape, dtype=torch.long), 0, torch.zeros(n, dtype=torch.long),
                                   torch.zeros(0, dtype=torch.long), prompt, torch.ones(shape, dtype=torch.long),
                                   task.pair)
            continue
        first = p["test_offset"] if split == "test" else 0
        rows = fewshot.load(p["task"], split, p["seed"])[first:first + n]
        out[split] = enc.text_batch(tokenizer, fewshot.texts(rows), [r["label"] for r in rows],
                                    min(task.max_len, p["seq"] - prompt), prompt_tokens=prompt, pad_to=p["seq"])
    return out


def _task(p: dict):
    from .. import data as fewshot

    return fewshot.get_task(p["task"])


def _labels(p: dict, model, tokenizer):
    """The model owner's label-description embeddings, by the same function the encoder computes
    (None for a pair task: its head compares the two sentences)."""
    task = _task(p)
    if task.pair:
        return None
    return enc.label_embeddings(model, tokenizer, task.label_descriptions, attention=p["attention"], features=64,
                                seed=0, gelu=p["gelu"])


def _head(p: dict, labels) -> dict:
    """The head's arguments, the same for the encoder and its plaintext twin."""
    task = _task(p)
    return {"head": task.head, "label_embeddings": labels, "pair_threshold": task.pair_threshold}


def _encoder(p: dict, model, tokenizer):
    labels = _labels(p, model, tokenizer)
    return enc.MPCEncoder(model, enc.EncoderSpec.of(p, features=64, seed=0), **_head(p, labels)), labels


# -- the servers (parties 0 and 1) -------------------------------------------------------------
@dataclass
class ServerState:
    """What a server holds before the run: the encoder and the public shapes of the owner's batches."""

    p: dict
    mpc: enc.MPCEncoder
    shapes: dict  # split -> a Batch of zero ids in the public shape


def server_setup(p: dict) -> ServerState:
    model = _model(p)
    tokenizer = enc.minilm_tokenizer()
    mpc, _ = _encoder(p, model, tokenizer)
    return ServerState(p, mpc, _batches(p))


def server_run(state: ServerState):
    """G generations of batched population forwards, then the tuned prompt on the test rows."""
    from ..mpc.compat import crypten
    from ..mpc.owner import OwnerLink

    p, mpc, shapes = state.p, state.mpc, state.shapes
    link = OwnerLink(crypten.communicator.get().get_rank())
    n = p["population"]
    train = shapes["train"].repeat(n)
    with crypten.no_grad():
        with scope("owner_inputs"):  # once per run: the training set does not change
            inputs = {name: link.input(f"train.{name}") for name in mpc.owner_inputs(train)}
        rows = shapes["train"].n_rows  # the population repeats the training rows
        cache = p["fixed_inputs"] != FIXED_INPUT.default
        _, words = mpc.pay_once(shapes["train"], inputs["ids"].narrow(0, 0, rows) if cache else None)
        words = crypten.cat([words] * n, dim=0) if words is not None else None
        for _ in range(p["generations"]):
            with scope("generation"):
                prompts = link.input("prompts")  # [n, P, H]
                per_row = prompts.unsqueeze(1).expand(n, rows, *prompts.shape[1:]).reshape(n * rows, *prompts.shape[1:])
                with scope("forward"):
                    logits = mpc.forward(train, per_row, inputs, words=words)
                link.output("logits", logits)
        with scope("test"):
            test = shapes["test"]
            test_inputs = {name: link.input(f"test.{name}") for name in mpc.owner_inputs(test)}
            prompt = link.input("tuned_prompt")
            link.output("test_logits", mpc.forward(test, prompt, test_inputs))
    link.close()
    return link.traffic.as_dict()


def server_check(state: ServerState, out) -> dict:
    return {"server_traffic": out}


# -- the data owner ----------------------------------------------------------------------------
def owner_run(owner, params: dict) -> dict:
    """The data owner's program: CMA-ES over MPC losses, and the plaintext twin beside it."""
    p = params
    cfg = config(p)
    model = _model(p)
    tokenizer = enc.minilm_tokenizer()
    labels = _labels(p, model, tokenizer)
    batches = _batches(p, tokenizer)
    train, test = batches["train"], batches["test"]
    n = p["population"]
    inputs = _owner_inputs(model, p, train.repeat(n))
    for name, t in inputs.items():
        owner.share(f"train.{name}", t.double())
    space = runs.BlackBoxPrompt(cfg, model)
    es = runs.cma_strategy(cfg)
    twin = {"attention": p["attention"], "features": 64, "seed": 0, "gelu": p["gelu"], **_head(p, labels)}
    generations = []
    for _ in range(p["generations"]):
        zs = es.ask()
        prompts = space.prompts(zs)
        owner.share("prompts", prompts)
        logits = owner.receive("logits")
        mpc_losses = _losses(logits, train, n)
        with torch.no_grad():
            plain = enc.plain_forward(model, train.repeat(n), prompts.repeat_interleave(train.n_rows, 0), **twin)
        plain_losses = _losses(plain, train, n)
        es.tell(zs, mpc_losses)  # the data owner tunes on what MPC gives it
        generations.append({"mpc_losses": mpc_losses, "plain_losses": plain_losses,
                            "mpc_ranking": np.argsort(mpc_losses, kind="stable").tolist(),
                            "plain_ranking": np.argsort(plain_losses, kind="stable").tolist(),
                            "logits_max_abs_err": (logits - plain).abs().max().item()})
    tuned = space.prompts([es.mean])[0]
    for name, t in _owner_inputs(model, p, test).items():
        owner.share(f"test.{name}", t.double())
    owner.share("tuned_prompt", tuned)
    got = owner.receive("test_logits")
    with torch.no_grad():
        want = enc.plain_forward(model, test, tuned, **twin)
    errs = [abs(a - b) for g in generations for a, b in zip(g["mpc_losses"], g["plain_losses"])]
    compared = compare_test_logits(got, want, p["test_offset"])
    return {
        "generations": generations,
        # the record's error: the largest logit difference the owner saw, in any generation or on test
        "max_abs_err": max([g["logits_max_abs_err"] for g in generations] + [compared["test_logits_max_abs_err"]]),
        "loss_max_abs_err": max(errs),
        "rankings_equal": all(g["mpc_ranking"] == g["plain_ranking"] for g in generations),
        "test_rows": test.size,
        "test_acc_mpc": (got.argmax(-1) == test.labels).double().mean().item(),
        "test_acc_plain": (want.argmax(-1) == test.labels).double().mean().item(),
        **compared,
    }


def compare_test_logits(got: torch.Tensor, want: torch.Tensor, offset: int = 0) -> dict:
    """The tuned prompt's test logits from MPC (``got``) against the exact twin's (``want``): the share
    of sentences predicted alike, the largest logit difference, and for each sentence predicted
    differently its test row, the exact model's margin (top logit minus the runner-up) and its largest
    logit difference.  A margin below the difference is a sentence on the decision boundary, which any
    fixed-point error can flip; a difference far beyond the logits' range (|logit| <= 20) is a
    two-party truncation failure."""
    top = want.topk(2, dim=-1).values
    margin, err = top[:, 0] - top[:, 1], (got - want).abs().amax(-1)
    differ = (got.argmax(-1) != want.argmax(-1)).nonzero().flatten().tolist()
    return {"test_agreement": 1.0 - len(differ) / len(want), "test_logits_max_abs_err": err.max().item(),
            "test_disagreements": [{"row": offset + i, "exact_margin": margin[i].item(), "logit_err": err[i].item()}
                                   for i in differ]}


def _owner_inputs(model, p: dict, batch: enc.Batch) -> dict:
    """What the data owner shares for a batch: the same names and forms the encoder consumes."""
    return enc.owner_inputs(model.config, batch, p["attention"], _task(p).head)


def _losses(logits: torch.Tensor, train: enc.Batch, n: int) -> list[float]:
    ce = torch.nn.functional.cross_entropy(logits.double(), train.labels.repeat(n), reduction="none")
    return ce.reshape(n, train.size).mean(1).tolist()
