"""One tuning step of each method, on the same batch and sequence length.

What each method trains, and where its cost is paid:

* ``sft``: every weight of the encoder and head (embeddings included).  Forward, loss
  gradient, backward through every block with weight gradients, then the optimizer
  (SGD: local; Adam: square root and division in MPC on every parameter).
* ``prompt``: only soft-prompt vectors (gradient prompt tuning).  ``prompt_depth=shallow``
  (ours): P vectors at the input, P-tuning style; backward runs through every block.  Note:
  CrypTen's matmul backward also computes the frozen operand's gradient (x^T g for x W) and
  the step discards it, as for LoRA's frozen weights: measured on the tiny model, 12% of the
  backward's bytes (20.4 MB against 18.0 MB) and 14 of its 132 rounds.  The records count what
  CrypTen pays.  ``prompt_depth=deep``: P-tuning v2, P vectors
  before every block, with the full backward the paper's accounting implies: weight
  gradients are computed as in SFT (a framework that cannot freeze weights) and discarded;
  only the prompts are updated.
* ``lora``: rank-r adapters A, B on the query and value projections of every block
  (the paper leaves LoRA to future work).  Backward through every block; the first block
  needs no input gradient.
* ``fot``: nothing in MPC.  One CMA-ES generation: the data owner asks ``population``
  candidate vectors z in R^d, maps each to a soft prompt with a fixed random matrix
  (Black-Box Tuning), shares it; the servers run forward passes only; the label logits
  are opened to the data owner (party 0) alone, who computes the loss in plaintext and
  tells CMA-ES.  ``fot_mode=batched`` runs the population as one forward of
  batch x population rows; ``sequential`` runs one forward per candidate.
  ``weight_masks=persistent`` opens every frozen weight's W - B once, and ``fixed_inputs=cached``
  looks the batch's token embeddings up once: both in the ``one_time`` scope, which the record
  reports apart from the generation's costs (a run pays it once, not per generation).

Fairness: every method sees the same template ([CLS] P prompt slots, text, <mask>,
[SEP]; ``prompt_tokens`` slots are prompt vectors for prompt/fot and ordinary tokens'
positions for sft/lora, which carry the prompt slots as word tokens), the same batch
size, the same sequence length, the same verbaliser head and loss (mean cross-entropy
over the C label words at the mask).  A FoT "step" in the paper's table is one
candidate's forward over that batch; a generation is ``population`` of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from ..mpc.compat import crypten
from ..mpc.meter import scope
from ..mpc.util import reveal_float
from ..nn import encoder as enc
from ..variants import FIXED_INPUT, FOT_MODES, METHODS, method  # noqa: F401  (re-exported)
from .optim import make_optimizer, plain_adam_update

LR = {"sgd": 1e-2, "adam": 1e-3}
#: trained elements up to which check() compares the whole update with plaintext (local clones)
UPDATE_CHECK_LIMIT = 30_000_000
#: an element whose MPC update is off by more than this many learning rates is a failure, not an
#: approximation (Adam's first update is at most lr per element): in 2PC, CrypTen truncates shares
#: locally, which goes wrong by ~2^48 units with probability ~|a b| / 2^32 per product a x b, so
#: large intermediate values over millions of elements fail a few elements outright
GROSS_ERROR = 10


@dataclass
class StepState:
    """A step's inputs in every party: the plaintext twin and batch (seeded, identical in every
    party) and their shares."""

    p: dict
    model: object  # the plaintext twin (transformers)
    batch: enc.Batch
    prompt: torch.Tensor | None  # the soft prompt (prompt, fot), float64
    mpc: enc.MPCEncoder
    twin: dict  # the twin's forward arguments (attention, features, head...)
    deep: list  # a deep prompt's per-block prompts, float64
    prompt_shared: object = None  # the prompt, secret-shared (gradient prompt tuning)
    deep_shared: list = field(default_factory=list)
    generation: FotGeneration | None = None  # fot: the CMA-ES generation
    one_time_cached: dict | None = None  # what the run's one-time work covered


def _trainable(p: dict):
    """Which weights get gradients: all for sft, and for deep prompts (computed, not applied)."""
    if method(p["method"]).all_weights or _deep(p):
        return lambda name: True
    return lambda name: False


def _deep_prompts(p: dict, layers: int, hidden: int) -> list:
    """Seeded P x H prompts for blocks 1..N-1 of a deep (P-tuning v2) prompt, else none."""
    if not _deep(p):
        return []
    g = torch.Generator().manual_seed(p["seed"] + 6)
    return [torch.randn(p["prompt_tokens"], hidden, generator=g, dtype=torch.float64) * 0.05
            for _ in range(layers - 1)]


def _deep(p: dict) -> bool:
    """Gradient prompt tuning with a prompt before every block (P-tuning v2)."""
    m = method(p["method"])
    return m.prompt and m.gradient and p["prompt_depth"] == "deep"


def setup(p: dict) -> StepState:
    """Plaintext model, batch and prompt (seeded, identical in every party), then shares."""
    layers = None if p["layers"] < 0 else p["layers"]
    model = enc.hf_model(p["model"], layers=layers, seed=p["seed"], max_positions=max(514, p["seq"] + 2))
    m = method(p["method"])
    uses_prompt = m.prompt
    batch, labels = make_batch(p, model, p["prompt_tokens"] if uses_prompt else 0)
    hidden = model.config.hidden_size
    g = torch.Generator().manual_seed(p["seed"] + 2)
    prompt = torch.randn(p["prompt_tokens"], hidden, generator=g, dtype=torch.float64) * 0.05 if uses_prompt else None
    attention = p["attention"]
    threshold = _pair_threshold(p)
    mpc = enc.MPCEncoder(model, enc.EncoderSpec.of(p), trainable=_trainable(p),
                         lora_rank=p["lora_rank"] if m.adapters else 0, head=p["head"], label_embeddings=labels,
                         pair_threshold=threshold)
    twin = {"attention": attention, "features": p["features"], "seed": p["seed"], "head": p["head"],
            "label_embeddings": labels, "gelu": p["gelu"], "pair_threshold": threshold}
    deep = _deep_prompts(p, model.config.num_hidden_layers, hidden)
    state = StepState(p, model, batch, prompt, mpc, twin, deep)
    if m.prompt and m.gradient:
        state.prompt_shared = crypten.cryptensor(prompt.float(), src=0, requires_grad=True)
        state.deep_shared = [crypten.cryptensor(t.float(), src=0, requires_grad=True) for t in deep]
    if not m.gradient:
        base, _ = enc._prefixes(model.config)
        emb_std = model.state_dict()[f"{base}.embeddings.word_embeddings.weight"].std().item()
        state.generation = FotGeneration(p, hidden, emb_std)
    return state


def make_batch(p: dict, model, prompt_tokens: int):
    """The step's batch and, for the sentence head, the model owner's label embeddings.

    ``task=synthetic``: seeded random ids of length ``seq`` (with the sentence head, a padding
    mask of seeded random lengths).  A task name: the first ``batch`` training examples of that
    task's ``data_seed`` draw, padded to the public length ``seq`` (MiniLM's tokenizer); a pair
    task's examples are two rows each, and its head needs no label embeddings."""
    cfg = model.config
    if p["task"] == "synthetic":
        batch = enc.synthetic_batch(cfg, p["batch"], p["seq"], prompt_tokens, classes=p["classes"],
                                    seed=p["seed"] + 1)
        if p["head"] != "sentence":
            return batch, None
        g = torch.Generator().manual_seed(p["seed"] + 5)
        lengths = torch.randint(prompt_tokens + 3, p["seq"] + 1, (p["batch"],), generator=g)
        mask = (torch.arange(p["seq"])[None, :] < lengths[:, None]).long()
        labels = torch.randn(p["classes"], cfg.hidden_size, generator=g, dtype=torch.float64)
        return enc.Batch(batch.input_ids, batch.mask_pos, batch.labels, batch.label_token_ids, prompt_tokens,
                         mask), labels
    from .. import data as fewshot

    task = fewshot.get_task(p["task"])
    rows = fewshot.load(p["task"], "train", p["data_seed"])[:p["batch"]]
    tokenizer = enc.minilm_tokenizer()
    batch = enc.text_batch(tokenizer, fewshot.texts(rows), [r["label"] for r in rows], task.max_len,
                           prompt_tokens=prompt_tokens, pad_to=p["seq"])
    if task.pair:
        return batch, None
    labels = enc.label_embeddings(model, tokenizer, task.label_descriptions, attention=p["attention"],
                                  features=p["features"], seed=p["seed"], gelu=p["gelu"])
    return batch, labels


def _pair_threshold(p: dict) -> float | None:
    from .. import data as fewshot

    return None if p["task"] == "synthetic" else fewshot.get_task(p["task"]).pair_threshold


def run(state: StepState):
    p = state.p
    m = method(p["method"])
    if not m.gradient:
        return state.generation.run(state)
    mpc, batch = state.mpc, state.batch
    params = mpc.parameters() if not m.prompt else \
        [("prompt", state.prompt_shared)] + [(f"prompt.block{i + 1}", t) for i, t in enumerate(state.deep_shared)]
    opt = make_optimizer(p["optimizer"], params, lr=LR[p["optimizer"]], loss_scale=p["loss_scale"],
                         **({"sqrt_iters": p["adam_sqrt_iters"], "recip_iters": p["adam_recip_iters"],
                             "positive": p["adam_positive"]} if p["optimizer"] == "adam" else {}))
    covered, _ = mpc.pay_once(batch)  # frozen weights (LoRA, shallow prompts): their masks, once per run
    if covered:
        state.one_time_cached = covered
    with scope("forward"):
        logits = mpc.forward(batch, state.prompt_shared, deep_prompts=state.deep_shared or None)
    with scope("loss"):  # d(mean CE)/d logits = (softmax - onehot) / B; the loss value is not needed
        onehot = torch.nn.functional.one_hot(batch.labels, logits.size(-1)).float()
        with crypten.no_grad():  # scaled by the public loss scale so gradients survive 16-bit fixed point
            grad = (logits.softmax(-1) - onehot).mul(p["loss_scale"] / batch.size)
    with scope("backward"):
        logits.backward(grad)
    grads = {name: t.grad for name, t in params}
    first = params[0][1].clone()  # local copy of shares, to measure the update in check()
    small = sum(t.numel() for _, t in params) <= UPDATE_CHECK_LIMIT
    before = {name: t.clone() for name, t in params} if small else None  # local copies, no communication
    with scope("optimizer"):
        opt.step()
    return {"logits": logits, "grads": grads, "first": (params[0][0], first, params[0][1]),
            "before": before, "params": dict(params)}


def check(state: StepState, out) -> dict:
    """MPC against the plaintext twin on the same weights and inputs (logits; gradients as
    cosine similarity per trained tensor; the optimizer's update for the first trained tensor)."""
    p = state.p
    if not method(p["method"]).gradient:
        return state.generation.check(state)
    got_logits = reveal_float(out["logits"].detach())
    plain = _plain_grads(state)
    result = {"max_abs_err": (got_logits - plain["logits"]).abs().max().item()}
    cos, zero, rel = {}, {}, {}
    for name, g in out["grads"].items():
        if g is None:
            continue
        ref = plain["grads"].get(name)
        if ref is None:  # e.g. a tied parameter that HF lists under another name
            continue
        mine = reveal_float(g) / p["loss_scale"]
        if mine.dim() == 2 and name in state.mpc.transposed:
            mine = mine.t()  # linear weights are stored transposed in MPC
        if ref.abs().max() < 1e-9:  # e.g. the key bias: softmax is shift-invariant, its gradient is 0
            zero[name] = mine.abs().max().item()
            continue
        cos[name] = torch.nn.functional.cosine_similarity(mine.flatten(), ref.flatten(), dim=0).item()
        rel[name] = ((mine - ref).norm() / ref.norm()).item()  # sees a wrong scale, which cosine cannot
    if state.one_time_cached:
        result["one_time_cached"] = state.one_time_cached
    result["grad_cosine"] = cos
    result["grad_max_rel_err"] = max(rel.values()) if rel else None
    result["grad_zero_max_abs"] = max(zero.values()) if zero else None  # tensors whose true gradient is 0
    result["grad_min_cosine"] = min(cos.values()) if cos else None
    result["grad_tensors"] = len(cos)
    name, before, after = out["first"]
    update = reveal_float(before) - reveal_float(after)
    g = reveal_float(out["grads"][name]) / p["loss_scale"]
    want = _plain_update(p, g)
    result["optimizer_err"] = (update - want).abs().max().item()  # given the MPC gradient
    # the whole step against plaintext: the update plaintext autograd + optimiser would make
    ref = plain["grads"].get(name)
    if ref is not None:
        if update.dim() == 2 and name in state.mpc.transposed:
            update = update.t()
        plain_update = _plain_update(p, ref)
        result["update_rel_err"] = ((update - plain_update).norm() / plain_update.norm()).item()
        result["update_tensor"] = name
    if out["before"] is not None:  # every trained tensor together: the step's whole update
        diff = want_sq = opt_diff = opt_sq = 0.0
        gross = elements = 0
        lr = LR[p["optimizer"]]
        for tensor_name, before_t in out["before"].items():
            if out["grads"].get(tensor_name) is None:  # no gradient reached it: the optimiser skips it
                continue
            step = reveal_float(before_t) - reveal_float(out["params"][tensor_name])
            # the optimiser alone: plaintext Adam/SGD given the same (MPC) gradient
            mpc_grad = reveal_float(out["grads"][tensor_name]) / p["loss_scale"]
            given = _plain_update(p, mpc_grad)
            miss = (step - given).abs()
            failed = miss > GROSS_ERROR * lr
            gross += int(failed.sum())
            elements += miss.numel()
            opt_diff += miss[~failed].square().sum().item()
            opt_sq += given[~failed].square().sum().item()
            ref = plain["grads"].get(tensor_name)
            if ref is None:
                continue
            if step.dim() == 2 and tensor_name in state.mpc.transposed:
                step = step.t()
            plain_step = _plain_update(p, ref)
            diff += (step - plain_step).square().sum().item()
            want_sq += plain_step.square().sum().item()
        result["update_all_rel_err"] = (diff / want_sq) ** 0.5 if want_sq else None
        # what the optimiser's own MPC arithmetic (Newton steps, fixed point) adds: relative L2 over
        # the elements it did not fail on, and how many it failed on
        result["optimizer_rel_err"] = (opt_diff / opt_sq) ** 0.5 if opt_sq else None
        result["optimizer_gross_errors"] = gross
        result["optimizer_elements"] = elements
    return result


def _plain_update(p: dict, grad: torch.Tensor) -> torch.Tensor:
    """The update plaintext (float64) Adam or SGD makes from ``grad`` at the first step."""
    if p["optimizer"] == "adam":
        return plain_adam_update(grad, LR["adam"], loss_scale=p["loss_scale"])
    return LR["sgd"] * grad


def _plain_grads(state: StepState) -> dict:
    """Torch autograd on the plaintext twin (float64): the reference gradients."""
    p, model, batch = state.p, state.model, state.batch
    model.zero_grad()
    prompt = state.prompt.clone().requires_grad_(True) if state.prompt is not None else None
    deep = [t.clone().requires_grad_(True) for t in state.deep]
    mpc = state.mpc
    m = method(p["method"])
    lora = {n: (a.clone().requires_grad_(True), b.clone().requires_grad_(True))
            for n, (a, b) in enc.lora_init(model.config, p["lora_rank"], p["seed"]).items()} \
        if m.adapters else {}
    logits = enc.plain_forward(model, batch, prompt, lora=lora, lora_scale=mpc.lora_scale, deep_prompts=deep or None,
                               **state.twin)
    loss = torch.nn.functional.cross_entropy(logits, batch.labels)
    loss.backward()
    grads = {}
    if m.all_weights:
        grads = {name: t.grad for name, t in model.named_parameters() if t.grad is not None}
    elif m.prompt:
        grads = {"prompt": prompt.grad, **{f"prompt.block{i + 1}": t.grad for i, t in enumerate(deep)}}
    elif m.adapters:
        for n, (a, b) in lora.items():
            grads[n + ".lora_A"], grads[n + ".lora_B"] = a.grad, b.grad
    return {"logits": logits.detach(), "grads": grads}


class FotGeneration:
    """One CMA-ES generation of forward-only tuning (the data owner's loop + MPC forwards)."""

    def __init__(self, p: dict, hidden: int, emb_std: float):
        self.p = p
        self.dim = p["intrinsic_dim"]
        g = torch.Generator().manual_seed(p["seed"] + 3)
        # Black-Box Tuning's fixed random projection R^d -> R^(P x H), scaled so that a candidate
        # z ~ N(0, I) gives prompt vectors of the word embeddings' spread (the model owner
        # publishes that one number)
        self.projection = torch.randn(p["prompt_tokens"] * hidden, self.dim, generator=g,
                                      dtype=torch.float64) * (emb_std / self.dim**0.5)
        self.hidden = hidden
        self.es = None
        self.opened = None
        self.cached = {}  # what the run's one-time work covered (the record says what is cached)
        self.candidates = None

    def _ask(self):
        import cma

        is_owner = crypten.communicator.get().get_rank() == 0
        n = self.p["population"]
        if is_owner:
            self.es = cma.CMAEvolutionStrategy(np.zeros(self.dim), 1.0, {"popsize": n, "seed": self.p["seed"] + 4,
                                                                          "verbose": -9})
            zs = self.es.ask()
            prompts = [(self.projection @ torch.as_tensor(z)).reshape(self.p["prompt_tokens"], self.hidden) for z in zs]
        else:  # party 1 never sees the candidates: it contributes shares of the right shape
            zs, prompts = None, [torch.zeros(self.p["prompt_tokens"], self.hidden, dtype=torch.float64)] * n
        return zs, prompts

    def run(self, state: StepState):
        mpc, batch = state.mpc, state.batch
        zs, prompts = self._ask()
        self.candidates = (zs, prompts)
        n = len(prompts)
        with scope("share_prompts"):
            shared = [crypten.cryptensor(pr.float(), src=0) for pr in prompts]
        logits = []
        with crypten.no_grad():
            cache = self.p["fixed_inputs"] != FIXED_INPUT.default
            self.cached, words = mpc.pay_once(batch, mpc.share_inputs(batch)["ids"] if cache else None)
            if self.p["fot_mode"] == "batched":
                big = batch.repeat(n)
                rows = batch.n_rows  # token rows: two per example for a pair task
                per_row = crypten.cat([s.unsqueeze(0) for s in shared for _ in range(rows)], dim=0)  # [n*B, P, H]
                with scope("forward"):
                    out = mpc.forward(big, per_row, words=crypten.cat([words] * n, dim=0) if words is not None
                                      else None)
                with scope("open"):
                    opened = out.reveal(dst=0)
                logits = [opened[i * batch.size:(i + 1) * batch.size] for i in range(n)] \
                    if opened is not None else [None] * n
            else:
                for s in shared:
                    with scope("forward"):
                        out = mpc.forward(batch, s, words=words)
                    with scope("open"):
                        logits.append(out.reveal(dst=0))
        with scope("owner_update"):  # plaintext, at the data owner
            if zs is not None:
                scale = float(out.encoder.scale)
                losses = [torch.nn.functional.cross_entropy(lg.double() / scale, batch.labels).item() for lg in logits]
                self.es.tell(zs, losses)
                self.opened = (logits, scale, losses)
        return out

    def check(self, state: StepState) -> dict:
        """Party 0 compares its opened logits with the plaintext twin, for every candidate."""
        if self.opened is None:
            return {}
        logits, scale, losses = self.opened
        zs, prompts = self.candidates
        model, batch = state.model, state.batch
        errs = []
        with torch.no_grad():
            for lg, pr in zip(logits, prompts):
                want = enc.plain_forward(model, batch, pr, **state.twin)
                errs.append((lg.double() / scale - want).abs().max().item())
        return {"max_abs_err": max(errs), "fot_losses": losses, **({"one_time_cached": self.cached} if self.cached else {})}
