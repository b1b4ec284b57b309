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
import time
from dataclasses import asdict, dataclass

import numpy as np
import torch

from .. import data as fewshot
from ..nn import attention as attn
from ..nn import encoder as enc
from ..variants import FOT, LORA, PROMPT, SFT, method

#: How each method is tuned: Adam's learning rate and the batch of a gradient method (FoT: CMA-ES
#: over the whole training set, neither).  What a method trains is its registry entry's
#: (:data:`secfwt.variants.METHOD_REGISTRY`).
TUNERS = {
    FOT: {"lr": None, "batch": None},
    SFT: {"lr": 2e-5, "batch": 8},
    PROMPT: {"lr": 1e-2, "batch": 8},
    LORA: {"lr": 1e-3, "batch": 8},
}
LORA_RANK, LORA_ALPHA = 8, 16.0
EVAL_CHUNK = 64


@dataclass(frozen=True)
class TuneConfig:
    """One tuning run; ``budget`` counts units (generations for fot, steps otherwise)."""

    task: str = "sst2"
    method: str = FOT
    seed: int = 13
    attention: str = attn.SOFTMAX
    gelu: str = "tanh"
    budget: int = 30
    eval_every: int = 5
    prompt_tokens: int = 8
    intrinsic_dim: int = 500
    population: int = 20
    features: int = 64
    test_rows: int = 0  # 0: the whole test split

    @property
    def lr(self):
        return TUNERS[self.method]["lr"]

    @property
    def batch(self):
        return TUNERS[self.method]["batch"]

    def uses_prompt(self) -> bool:
        return method(self.method).prompt


class TaskData:
    """The tokenised splits of one task and seed, and the model owner's label embeddings."""

    def __init__(self, cfg: TuneConfig, model, tokenizer):
        self.task = fewshot.get_task(cfg.task)
        p = cfg.prompt_tokens if cfg.uses_prompt() else 0
        self.prompt_tokens = p
        rows = {s: fewshot.load(cfg.task, s, cfg.seed) for s in ("train", "dev", "test")}
        if cfg.test_rows:
            rows["test"] = rows["test"][:cfg.test_rows]
        self.rows = rows
        self.batches = {s: _sorted_batch(tokenizer, r, self.task.max_len, p) for s, r in rows.items()}
        self.labels = enc.label_embeddings(model, tokenizer, self.task.label_descriptions, attention=cfg.attention,
                                           features=cfg.features, seed=0, gelu=cfg.gelu)


def _sorted_batch(tokenizer, rows, max_len, prompt_tokens) -> enc.Batch:
    """Rows sorted by length, so that evaluation chunks carry little padding (order is irrelevant)."""
    lengths = [len(tokenizer(r["text"], truncation=True, max_length=max_len)["input_ids"]) for r in rows]
    order = sorted(range(len(rows)), key=lambda i: lengths[i])
    return enc.text_batch(tokenizer, [rows[i]["text"] for i in order], [rows[i]["label"] for i in order], max_len,
                          prompt_tokens=prompt_tokens)


def _trim(batch: enc.Batch) -> enc.Batch:
    """Drop the columns that are padding in every row (the function is unchanged: they are masked)."""
    keep = int(batch.attention_mask.sum(1).max())
    return enc.Batch(batch.input_ids[:, :keep], batch.mask_pos, batch.labels, batch.label_token_ids,
                     batch.prompt_tokens, batch.attention_mask[:, :keep])


class Twin:
    """The plaintext twin of the MPC encoder with the sentence head, in float32."""

    def __init__(self, cfg: TuneConfig, model, data: TaskData):
        self.cfg, self.model, self.data = cfg, model, data

    def logits(self, batch: enc.Batch, prompt=None, lora=None) -> torch.Tensor:
        return enc.plain_forward(self.model, batch, prompt, attention=self.cfg.attention, features=self.cfg.features,
                                 gelu=self.cfg.gelu, head="sentence", label_embeddings=self.data.labels, lora=lora,
                                 lora_scale=LORA_ALPHA / LORA_RANK if lora else 0.0)

    def accuracy(self, split: str, prompt=None, lora=None) -> float:
        batch = self.data.batches[split]
        correct = 0
        with torch.no_grad():
            for start in range(0, batch.size, EVAL_CHUNK):
                part = _trim(batch.rows(start, EVAL_CHUNK))
                correct += (self.logits(part, prompt, lora).argmax(-1) == part.labels).sum().item()
        return correct / batch.size


def load_model():
    """all-MiniLM-L6-v2 in float32 and its tokenizer (offline)."""
    return enc.hf_model("minilm").float(), enc.minilm_tokenizer()


def zero_shot(cfg: TuneConfig, model, tokenizer) -> float:
    """Test accuracy of the head with no prompt and no tuning."""
    plain = TuneConfig(**{**asdict(cfg), "method": SFT})
    data = TaskData(plain, model, tokenizer)
    return Twin(plain, model, data).accuracy("test")


def tune(cfg: TuneConfig, progress: bool = False, model=None, tokenizer=None) -> dict:
    """Run one tuning run in the plaintext twin; returns the trajectory and summary accuracies."""
    m = method(cfg.method)  # raises on an unknown method
    torch.manual_seed(cfg.seed)
    if model is None:
        model, tokenizer = load_model()
    data = TaskData(cfg, model, tokenizer)
    twin = Twin(cfg, model, data)
    t0 = time.perf_counter()
    runner = _gradient if m.gradient else _fot
    trajectory, start_acc = runner(cfg, model, twin, progress)
    best = max(trajectory, key=lambda row: (row["dev_acc"], row["units"]))
    return {
        "zero_shot_acc": zero_shot(cfg, model, tokenizer),
        "start_acc": start_acc,
        "trajectory": trajectory,
        "final_acc": best["test_acc"], "selected_units": best["units"],
        "last_acc": trajectory[-1]["test_acc"],
        "unit": m.unit, "lr": cfg.lr, "batch": cfg.batch,
        "train_size": data.batches["train"].size, "test_size": data.batches["test"].size,
        "tune_s": time.perf_counter() - t0,
    }


def _checkpoint(twin, units, evals, loss, prompt=None, lora=None) -> dict:
    return {"units": units, "evaluations": evals, "train_loss": float(loss),
            "dev_acc": twin.accuracy("dev", prompt, lora), "test_acc": twin.accuracy("test", prompt, lora)}


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
            logits = twin.logits(part.repeat(n), prompts.repeat_interleave(part.size, 0).float())
            ce = torch.nn.functional.cross_entropy(logits.double(), part.labels.repeat(n), reduction="none")
            total += ce.reshape(n, part.size).sum(1)
    return (total / train.size).tolist()


def cma_strategy(cfg: TuneConfig):
    import cma

    return cma.CMAEvolutionStrategy(np.zeros(cfg.intrinsic_dim), 1.0,
                                    {"popsize": cfg.population, "seed": cfg.seed + 4, "verbose": -9})


def _fot(cfg, model, twin, progress):
    space = BlackBoxPrompt(cfg, model)
    es = cma_strategy(cfg)
    start = space.prompts([np.zeros(cfg.intrinsic_dim)])[0].float()
    start_acc = twin.accuracy("test", start)
    trajectory = [_checkpoint(twin, 0, 0, math.nan, start)]
    best_loss = math.inf
    with _bar(cfg, progress) as bar:
        for gen in range(1, cfg.budget + 1):
            zs = es.ask()
            losses = population_losses(twin, space.prompts(zs))
            es.tell(zs, losses)
            best_loss = min(best_loss, min(losses))
            bar.update(1)
            bar.set_postfix(loss=f"{best_loss:.3f}")
            if gen % cfg.eval_every == 0 or gen == cfg.budget:
                mean = space.prompts([es.mean])[0].float()  # CMA-ES's current estimate of the optimum
                trajectory.append(_checkpoint(twin, gen, gen * cfg.population, best_loss, mean))
    return trajectory, start_acc


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
            batch = _trim(_select(train, idx))
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


def _select(batch: enc.Batch, idx: torch.Tensor) -> enc.Batch:
    return enc.Batch(batch.input_ids[idx], batch.mask_pos, batch.labels[idx], batch.label_token_ids,
                     batch.prompt_tokens, batch.attention_mask[idx])


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
