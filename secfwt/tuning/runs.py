"""Whole few-shot tuning runs: trajectories of training loss and test accuracy per method.

A run tunes the pretrained all-MiniLM-L6-v2 with the ``sentence`` head (scaled cosine of the
mean-pooled embedding with the label descriptions' embeddings, see :mod:`secfwt.nn.encoder`)
on a committed 16-shot draw (:mod:`secfwt.data`), and evaluates on the held-out test split
every few units.  The unit is what MPC prices (``secfwt run step``): a CMA-ES **generation**
for ``fot`` (``population`` candidates, each one forward over the whole training set) and an
optimiser **step** for ``sft``, ``prompt`` and ``lora`` (forward, backward, Adam on a batch).

Runs execute in the plaintext twin (:func:`secfwt.nn.encoder.plain_forward`, float32): the
same function the MPC encoder computes, up to fixed-point error.  The evidence that MPC
computes the same trajectory is in ``tests/test_tuning_parity.py`` and the ``parity`` records
(every candidate's loss and CMA-ES's ranking, tuned-prompt predictions, one update of each
gradient method).  CMA-ES is rank-based: equal rankings give equal trajectories.

Settings (stated in every record; none chosen on the test split):

* ``fot``: Black-Box Tuning (Sun et al., 2022): a prompt of ``prompt_tokens`` vectors after
  [CLS] = A z, with A a fixed N(0, sigma_emb^2 / d) matrix R^d -> R^(P x H) and z searched by
  CMA-ES (``cma``, sigma0 = 1, population 20) under an evaluation budget.  The loss of a
  candidate is the mean cross-entropy over the training set, computed by the data owner.
* ``sft``: every weight, Adam (lr 2e-5), batch 8.  ``prompt``: the same P prompt vectors as
  FoT, starting from FoT's start (zeros), Adam (lr 1e-2).  ``lora``: rank-8 adapters on the
  query and value projections (B = 0 at the start), Adam (lr 1e-3).
* The reported final accuracy is the test accuracy at the checkpoint with the best 16-shot
  dev accuracy (model selection on dev, as LM-BFF and BBT do); the last checkpoint's is kept too.
"""

from __future__ import annotations

import math
import os
import pickle
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from .. import data as fewshot
from ..nn import encoder as enc
from ..variants import SFT, method
from .config import TUNERS, TuneConfig  # noqa: F401  (re-exported)
from .selection import select

LORA_RANK, LORA_ALPHA = 8, 16.0
EVAL_CHUNK = 64


class TaskData:
    """The tokenised splits of one task and seed, and the model owner's label embeddings (the
    sentence head's; the pair head needs only the task's public threshold)."""

    def __init__(self, cfg: TuneConfig, model, tokenizer):
        self.task = fewshot.get_task(cfg.task)
        p = cfg.prompt_tokens if cfg.uses_prompt() else 0
        self.prompt_tokens = p
        rows = {s: fewshot.load(cfg.task, s, cfg.seed) for s in fewshot.SPLITS}
        if cfg.test_rows:
            rows["test"] = rows["test"][:cfg.test_rows]
        self.rows = rows
        self.order, self.batches = {}, {}
        for split, r in rows.items():
            self.order[split], self.batches[split] = _sorted_batch(tokenizer, r, self.task.max_len, p)
        self.labels = None if self.task.pair else enc.label_embeddings(
            model, tokenizer, self.task.label_descriptions, attention=cfg.attention, features=cfg.features, seed=0,
            gelu=cfg.gelu)


def _sorted_batch(tokenizer, rows, max_len, prompt_tokens) -> tuple[list[int], enc.Batch]:
    """(file-order index of each batch row, the rows as one batch sorted by length), so that
    evaluation chunks carry little padding (order is irrelevant to the function)."""
    texts = fewshot.texts(rows)
    lengths = [max(len(tokenizer(s, truncation=True, max_length=max_len)["input_ids"])
                   for s in (t if isinstance(t, tuple) else (t,))) for t in texts]
    order = sorted(range(len(rows)), key=lambda i: lengths[i])
    return order, enc.text_batch(tokenizer, [texts[i] for i in order], [rows[i]["label"] for i in order], max_len,
                                 prompt_tokens=prompt_tokens)


def _trim(batch: enc.Batch) -> enc.Batch:
    """Drop the columns that are padding in every row (the function is unchanged: they are masked)."""
    keep = int(batch.attention_mask.sum(1).max())
    return enc.Batch(batch.input_ids[:, :keep], batch.mask_pos, batch.labels, batch.label_token_ids,
                     batch.prompt_tokens, batch.attention_mask[:, :keep], batch.pair)


class Twin:
    """The plaintext twin of the MPC encoder with the task's head, in float32."""

    def __init__(self, cfg: TuneConfig, model, data: TaskData):
        self.cfg, self.model, self.data = cfg, model, data

    def logits(self, batch: enc.Batch, prompt=None, lora=None) -> torch.Tensor:
        return enc.plain_forward(self.model, batch, prompt, attention=self.cfg.attention, features=self.cfg.features,
                                 gelu=self.cfg.gelu, head=self.data.task.head, label_embeddings=self.data.labels,
                                 pair_threshold=self.data.task.pair_threshold, lora=lora,
                                 lora_scale=LORA_ALPHA / LORA_RANK if lora else 0.0)

    def predictions(self, split: str, prompt=None, lora=None) -> list[int]:
        """The predicted label of every row of a split, in the split's file order."""
        batch = self.data.batches[split]
        sorted_preds = []
        with torch.no_grad():
            for start in range(0, batch.size, EVAL_CHUNK):
                sorted_preds += self.logits(_trim(batch.rows(start, EVAL_CHUNK)), prompt, lora).argmax(-1).tolist()
        out = [0] * batch.size
        for pos, i in enumerate(self.data.order[split]):
            out[i] = sorted_preds[pos]
        return out

    def accuracy(self, split: str, prompt=None, lora=None) -> float:
        return accuracy(self.predictions(split, prompt, lora), [r["label"] for r in self.data.rows[split]])


def accuracy(preds, labels) -> float:
    return sum(int(p == y) for p, y in zip(preds, labels, strict=True)) / len(labels)


def pred_string(preds) -> str:
    """Predictions as stored in a record: one digit per row, file order (classes < 10)."""
    return "".join(map(str, preds))


def load_model():
    """all-MiniLM-L6-v2 in float32 and its tokenizer (offline)."""
    return enc.hf_model("minilm").float(), enc.minilm_tokenizer()


def zero_shot(cfg: TuneConfig, model, tokenizer) -> list[int]:
    """Test predictions of the head with no prompt and no tuning (file order)."""
    plain = TuneConfig(**{**asdict(cfg), "method": SFT})
    data = TaskData(plain, model, tokenizer)
    return Twin(plain, model, data).predictions("test")


def tune(cfg: TuneConfig, progress: bool = False, model=None, tokenizer=None, checkpoint=None) -> dict:
    """Run one tuning run in the plaintext twin; returns the trajectory and summary accuracies.
    ``checkpoint`` (a path; FoT): the run's state is saved there at every evaluation and a run
    restarted with the same path and configuration continues from it, on the same trajectory."""
    m = method(cfg.method)  # raises on an unknown method
    torch.manual_seed(cfg.seed)
    if model is None:
        model, tokenizer = load_model()
    data = TaskData(cfg, model, tokenizer)
    twin = Twin(cfg, model, data)
    t0 = time.perf_counter()
    if m.gradient:
        trajectory, start_acc = _gradient(cfg, model, twin, progress)
    else:
        trajectory, start_acc = _fot(cfg, model, twin, progress, checkpoint)
    best = select(trajectory)
    labels = [r["label"] for r in data.rows["test"]]
    zero = zero_shot(cfg, model, tokenizer)
    return {
        "zero_shot_acc": accuracy(zero, labels), "zero_shot_pred": pred_string(zero),
        "start_acc": start_acc,
        "trajectory": trajectory,
        "final_acc": best["test_acc"], "selected_units": best["units"],
        "last_acc": trajectory[-1]["test_acc"],
        "unit": m.unit, "lr": cfg.lr, "batch": cfg.batch,
        "train_size": data.batches["train"].size, "test_size": data.batches["test"].size,
        "tune_s": time.perf_counter() - t0,
    }


def _checkpoint(twin, units, evals, loss, prompt=None, lora=None) -> dict:
    preds = twin.predictions("test", prompt, lora)
    return {"units": units, "evaluations": evals, "train_loss": float(loss),
            "dev_acc": twin.accuracy("dev", prompt, lora),
            "test_acc": accuracy(preds, [r["label"] for r in twin.data.rows["test"]]),
            "test_pred": pred_string(preds)}


def _bar(cfg, progress):
    from tqdm import tqdm

    return tqdm(total=cfg.budget, disable=not progress, leave=False, unit=method(cfg.method).unit,
                desc=f"{cfg.task} {cfg.method} seed {cfg.seed}")


class BlackBoxPrompt:
    """Black-Box Tuning's search space: z in R^d -> prompt A z of P x H (the data owner's)."""

    def __init__(self, cfg: TuneConfig, model):
        hidden = model.config.hidden_size
        words = model.get_input_embeddings().weight
        g = torch.Generator().manual_seed(cfg.seed + 3)
        self.shape = (cfg.prompt_tokens, hidden)
        self.projection = torch.randn(cfg.prompt_tokens * hidden, cfg.intrinsic_dim, generator=g,
                                      dtype=torch.float64) * (words.std().item() / math.sqrt(cfg.intrinsic_dim))

    def prompts(self, zs) -> torch.Tensor:
        """[n, P, H] prompts of n candidates."""
        z = torch.as_tensor(np.asarray(zs), dtype=torch.float64)
        return (z @ self.projection.t()).reshape(len(zs), *self.shape)


def population_losses(twin: Twin, prompts: torch.Tensor, chunk: int = 8) -> list[float]:
    """Mean cross-entropy of each candidate over the whole training set (what the data owner
    computes from the opened logits).  The population is batched into one forward per chunk of
    length-sorted training rows, so that little of the compute is spent on padding."""
    train = twin.data.batches["train"]
    n = prompts.size(0)
    total = torch.zeros(n, dtype=torch.float64)
    with torch.no_grad():
        for start in range(0, train.size, chunk):
            part = _trim(train.rows(start, chunk))
            logits = twin.logits(part.repeat(n), prompts.repeat_interleave(part.n_rows, 0).float())
            ce = torch.nn.functional.cross_entropy(logits.double(), part.labels.repeat(n), reduction="none")
            total += ce.reshape(n, part.size).sum(1)
    return (total / train.size).tolist()


def cma_strategy(cfg: TuneConfig):
    import cma

    return cma.CMAEvolutionStrategy(np.zeros(cfg.intrinsic_dim), 1.0,
                                    {"popsize": cfg.population, "seed": cfg.seed + 4, "verbose": -9})


def _fot(cfg, model, twin, progress, checkpoint=None):
    space = BlackBoxPrompt(cfg, model)
    saved = _resume(checkpoint, cfg)
    if saved is None:
        es = cma_strategy(cfg)
        start = space.prompts([np.zeros(cfg.intrinsic_dim)])[0].float()
        start_acc = twin.accuracy("test", start)
        trajectory, best_loss, done = [_checkpoint(twin, 0, 0, math.nan, start)], math.inf, 0
    else:
        es, trajectory, best_loss, done, start_acc = (saved[k] for k in ("es", "trajectory", "best_loss", "done",
                                                                          "start_acc"))
        np.random.set_state(saved["numpy_random"])  # cma draws its samples from numpy's global generator
    with _bar(cfg, progress) as bar:
        bar.update(done)
        for gen in range(done + 1, cfg.budget + 1):
            zs = es.ask()
            losses = population_losses(twin, space.prompts(zs))
            es.tell(zs, losses)
            best_loss = min(best_loss, min(losses))
            bar.update(1)
            bar.set_postfix(loss=f"{best_loss:.3f}")
            if gen % cfg.eval_every == 0 or gen == cfg.budget:
                mean = space.prompts([es.mean])[0].float()  # CMA-ES's current estimate of the optimum
                trajectory.append(_checkpoint(twin, gen, gen * cfg.population, best_loss, mean))
                _save(checkpoint, cfg, {"es": es, "trajectory": trajectory, "best_loss": best_loss, "done": gen,
                                        "start_acc": start_acc, "numpy_random": np.random.get_state()})
    if checkpoint is not None:
        Path(checkpoint).unlink(missing_ok=True)  # the record holds it all now
    return trajectory, start_acc


def _state_identity(cfg: TuneConfig) -> dict:
    """What a saved state must match to be continued: the configuration but its budget (a longer
    run continues a shorter one's state) and the code that computes the trajectory."""
    from ..results import PLAINTEXT_TWIN_CODE, code_version

    return {**{k: v for k, v in asdict(cfg).items() if k != "budget"}, "code": code_version(PLAINTEXT_TWIN_CODE)}


def _resume(checkpoint, cfg: TuneConfig) -> dict | None:
    """The saved state of this run, or None (no file, another configuration or code, unreadable)."""
    if checkpoint is None or not Path(checkpoint).exists():
        return None
    try:
        with open(checkpoint, "rb") as f:
            saved = pickle.load(f)
    except (OSError, EOFError, pickle.UnpicklingError):
        return None
    if saved.get("identity") != _state_identity(cfg) or saved["done"] > cfg.budget:
        return None
    return saved


def _save(checkpoint, cfg: TuneConfig, state: dict) -> None:
    """Write the state atomically (a kill mid-write leaves the previous state)."""
    if checkpoint is None:
        return
    path = Path(checkpoint)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        pickle.dump({**state, "identity": _state_identity(cfg)}, f)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def _gradient(cfg, model, twin, progress):
    model = _fresh_copy(model) if method(cfg.method).all_weights else model
    twin = Twin(cfg, model, twin.data)
    params, prompt, lora = _trainable(cfg, model)
    opt = torch.optim.Adam(params, lr=cfg.lr)
    train = twin.data.batches["train"]
    g = torch.Generator().manual_seed(cfg.seed)
    order = torch.randperm(train.size, generator=g)
    start_acc = twin.accuracy("test", prompt, lora)
    trajectory = [_checkpoint(twin, 0, 0, math.nan, prompt, lora)]
    cursor, losses = 0, []
    with _bar(cfg, progress) as bar:
        for step in range(1, cfg.budget + 1):
            if cursor + cfg.batch > train.size:
                order, cursor = torch.randperm(train.size, generator=g), 0
            idx = order[cursor:cursor + cfg.batch]
            cursor += cfg.batch
            batch = _trim(train.select(idx))
            loss = torch.nn.functional.cross_entropy(twin.logits(batch, prompt, lora), batch.labels)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
            bar.update(1)
            if step % cfg.eval_every == 0 or step == cfg.budget:
                recent = float(np.mean(losses[-cfg.eval_every:]))
                trajectory.append(_checkpoint(twin, step, step * cfg.batch, recent, prompt, lora))
    return trajectory, start_acc


def _fresh_copy(model):
    import copy

    return copy.deepcopy(model)


def _trainable(cfg: TuneConfig, model):
    """(parameters for Adam, prompt or None, lora dict or None) of a gradient method."""
    m = method(cfg.method)
    for t in model.parameters():
        t.requires_grad_(m.all_weights)
    if m.all_weights:
        return list(model.parameters()), None, None
    if m.prompt:
        prompt = torch.zeros(cfg.prompt_tokens, model.config.hidden_size, requires_grad=True)
        return [prompt], prompt, None
    g = torch.Generator().manual_seed(cfg.seed + 7)
    h = model.config.hidden_size
    lora = {}
    for i in range(model.config.num_hidden_layers):
        for proj in ("q", "v"):
            a = (torch.randn(h, LORA_RANK, generator=g) / math.sqrt(h)).requires_grad_(True)
            b = torch.zeros(LORA_RANK, h, requires_grad=True)  # LoRA's zero start: the model is unchanged
            lora[enc.block_names(model.config, i)[proj]] = (a, b)
    return [t for pair in lora.values() for t in pair], None, lora


def choose_pair_threshold(task: str, seeds=fewshot.DEFAULT_SEEDS, model=None, tokenizer=None) -> float:
    """The pair head's public threshold, chosen on the train and dev draws of ``seeds`` only: the
    untuned model's cosine of each pair's two sentences, and the cut between two consecutive sorted
    cosines (their midpoint) that classifies most pairs right (the middle one of equal best cuts)."""
    if model is None:
        model, tokenizer = load_model()
    rows = [r for s in seeds for split in ("train", "dev") for r in fewshot.load(task, split, s)]
    batch = enc.text_batch(tokenizer, fewshot.texts(rows), [r["label"] for r in rows], fewshot.get_task(task).max_len)
    with torch.no_grad():
        cos = enc.plain_forward(model, batch, head="pair", pair_threshold=0.0)[:, 1] / (enc.SENTENCE_SCALE / 2)
    order = cos.argsort()
    c, y = cos[order].double(), batch.labels[order]
    # a cut after sorted position i: pairs 0..i say 0, the rest 1
    right = [(y[:i] == 0).sum().item() + (y[i:] == 1).sum().item() for i in range(len(y) + 1)]
    best = [i for i, n in enumerate(right) if n == max(right)]
    i = best[len(best) // 2]
    lo = c[i - 1].item() if i > 0 else c[0].item() - 1e-3
    hi = c[i].item() if i < len(c) else c[-1].item() + 1e-3
    return round((lo + hi) / 2, 3)
