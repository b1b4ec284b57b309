"""Workload ``step``: one tuning step in 2PC of each method (SFT, prompt tuning, LoRA, or one
forward-only CMA-ES generation), on the same batch and sequence length, checked against the
plaintext twin (logits, gradients, the optimiser's update).  The step itself, and where each
method pays, is :mod:`secfwt.tuning.steps`; its typed state is :class:`secfwt.tuning.steps.StepState`.

The party-side functions import torch and CrypTen when called: the declaration is read without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import variants as attn
from ..results import ONE_TIME
from ..variants import FIXED_INPUT, FOT, FOT_MODES, HEADS, METHODS, OPTIMIZERS, PROMPT_DEPTHS, WEIGHT_MASK, method
from .base import (
    FIXED_INPUTS_PARAM,
    PROTOCOL_PARAMS,
    WEIGHT_MASKS_PARAM,
    Axis,
    Extrapolation,
    ModelParam,
    Param,
    Workload,
    model_depth,
    model_width,
    register,
    seed_param,
    task_names,
)

if TYPE_CHECKING:
    from ..tuning.steps import StepState


#: an extrapolated step measures its batch as it is up to BATCH_DIRECT rows and ROW_WIDTH_DIRECT
#: (batch x hidden size: MiniLM's batch of 8), else at BATCH_POINTS rows; a batched FoT generation of
#: more than POPULATION_DIRECT candidates is measured at POPULATION_POINTS.  Memory sets the limits:
#: at RoBERTa-large one block of an SFT step of batch 8 (L = 56) took a party past 24 GiB where batch 1
#: peaked at 12 GiB for all three processes, and a generation of 20 candidates over 32 sentences was
#: killed as well.  Counts are affine along each axis (per-row and per-candidate costs; weights, the
#: optimiser and rounds independent of them), so the extrapolation is exact for rounds and bytes
#: whichever values are measured.
BATCH_POINTS, BATCH_DIRECT, ROW_WIDTH_DIRECT = (1, 2), 8, 8 * 384
POPULATION_POINTS, POPULATION_DIRECT = (2, 3), 4


def extrapolation_axes(p: dict) -> list[Axis]:
    """What an extrapolated step measures: two depths (LoRA's first block needs no input gradient and
    a deep prompt's first block takes the input prompt, so their repeating block is the second), the
    batch, and a batched FoT generation's population."""
    m = method(p["method"])
    depths = (1, 2) if m.adapters or p["prompt_depth"] == "deep" else (0, 1)
    axes = [Axis("layers", depths, p["layers"] if p["layers"] >= 0 else model_depth(p["model"]))]
    batch = p["batch"]
    direct = batch <= BATCH_DIRECT and batch * model_width(p["model"]) <= ROW_WIDTH_DIRECT
    axes.append(Axis("batch", (batch,) if direct else BATCH_POINTS, batch))
    if p["method"] == FOT and p["fot_mode"] == "batched" and p["population"] > POPULATION_DIRECT:
        axes.append(Axis("population", POPULATION_POINTS, p["population"]))
    return axes


def setup(p: dict) -> StepState:
    from ..tuning import steps

    return steps.setup(p)


def run(state: StepState):
    from ..tuning import steps

    return steps.run(state)


def check(state: StepState, out) -> dict:
    from ..tuning import steps

    return steps.check(state, out)


def _amortised_where_fixed(p):
    """Persistent masks need weights that do not change (fot, lora, shallow prompts: frozen base
    weights); cached inputs need a training set that does not change (fot: the whole few-shot set
    each generation)."""
    m = method(p["method"])
    if not m.gradient:
        return
    changing = not m.frozen_base or p["prompt_depth"] == "deep"
    if p["weight_masks"] != WEIGHT_MASK.default and changing:
        why = "SFT updates every weight each step" if not m.frozen_base else \
            "deep prompt tuning computes every weight's gradient as SFT does"
        raise ValueError(f"weight_masks={p['weight_masks']} with method={p['method']}: {why}; persistent masks "
                         "need frozen weights (fot, lora, shallow prompts)")
    if p["fixed_inputs"] != FIXED_INPUT.default:
        raise ValueError(f"fixed_inputs={p['fixed_inputs']} applies to method=fot only (gradient methods draw "
                         "new batches)")


def _step_validate(p):
    m = method(p["method"])
    _amortised_where_fixed(p)
    if p["prompt_depth"] != "shallow" and not (m.prompt and m.gradient):
        raise ValueError(f"prompt_depth={p['prompt_depth']} applies to method=prompt only")
    if p["task"] != "synthetic" and p["model"] != "minilm":
        raise ValueError(f"task={p['task']} is real text for MiniLM's tokenizer: use model=minilm")
    if p["task"] != "synthetic":
        from ..data import get_task

        head = get_task(p["task"]).head
        if p["head"] != head:
            raise ValueError(f"task={p['task']} needs head={head} (MiniLM ships no masked-LM head; pair tasks "
                             "compare two sentences)")
    elif p["head"] == "pair":
        raise ValueError("head=pair compares the two sentences of a pair task's examples: give task=mrpc or rte")


WORKLOAD = register(Workload(
    name="step",
    description="one tuning step in 2PC: sft (SGD/Adam in MPC), prompt (gradient prompt tuning), lora, "
                "or fot (one CMA-ES generation of forward passes, logits opened to the data owner); "
                "max_abs_err compares the label logits with the plaintext twin, grad_min_cosine the gradients",
    params=(
        Param("method", str, FOT, "tuning method", choices=METHODS),
        ModelParam("model", str, "tiny", "tiny, small, base, large (RoBERTa), minilm (pretrained) or a config.json"),
        Param("layers", int, -1, "encoder blocks to build (-1: the model's own depth)", minimum=-1, maximum=48),
        Param("seq", int, 32, "sequence length", positive=True, maximum=4096),
        Param("batch", int, 1, "examples per step", positive=True, maximum=4096),
        Param("prompt_tokens", int, 4, "soft-prompt vectors (prompt, fot)", positive=True, maximum=512),
        Param("prompt_depth", str, "shallow", "prompt: shallow (P vectors at the input) or "
                                              "deep (P-tuning v2: P vectors before every block, full backward)",
              choices=PROMPT_DEPTHS),
        Param("attention", str, attn.SOFTMAX, "attention variant", choices=attn.VARIANTS),
        Param("features", int, 64, "random features (RFA)", positive=True, maximum=4096),
        *PROTOCOL_PARAMS,
        WEIGHT_MASKS_PARAM,
        FIXED_INPUTS_PARAM,
        Param("optimizer", str, "adam", "optimizer in MPC (sft, prompt, lora)", choices=OPTIMIZERS),
        Param("adam_sqrt_iters", int, 10, "Adam: Newton steps of the MPC square root (CrypTen's default 3)",
              minimum=1, maximum=50),
        Param("adam_recip_iters", int, 10, "Adam: Newton steps of the MPC reciprocal (CrypTen's default 10)",
              minimum=1, maximum=50),
        Param("adam_positive", bool, False, "Adam: skip the reciprocal's secure sign test (its input "
                                            "sqrt(v) + eps is positive)"),
        Param("lora_rank", int, 8, "LoRA rank", positive=True, maximum=1024),
        Param("population", int, 4, "CMA-ES candidates per generation (fot; CMA-ES needs 2 or more)",
              minimum=2, maximum=1000),
        Param("fot_mode", str, "batched", "fot: one forward over the whole population or one per candidate",
              choices=FOT_MODES),
        Param("intrinsic_dim", int, 500, "CMA-ES search dimension d (fot)", positive=True, maximum=100000),
        Param("classes", int, 2, "label words in the verbaliser (synthetic data)", positive=True, maximum=1000),
        Param("head", str, "mlm", "mlm (masked-LM verbaliser, the paper's), sentence (pooled embedding "
                                  "against label descriptions: pretrained MiniLM) or pair (cosine of a pair's two "
                                  "pooled embeddings: MiniLM on pair tasks)", choices=HEADS),
        Param("task", str, "synthetic", "synthetic ids, or a task's real training sentences (MiniLM tokenizer)",
              choices=("synthetic",) + task_names()),
        Param("data_seed", int, 13, "the task's draw whose training rows a real-text step reads", minimum=0),
        Param("loss_scale", float, 1024.0, "public factor on the loss gradient (16-bit fixed point)", positive=True, maximum=2.0**20),
        Param("extrapolate", bool, False, "measure 0 and 1 blocks (LoRA: 1 and 2), batches 1 and 2 when "
                                          "batch > 8 or batch x hidden > 3072, and populations 2 and 3 for a batched "
                                          "FoT generation of more than 4, and extrapolate to the full depth, "
                                          "batch and population (exact rounds/bytes, approximate times)"),
        seed_param(0, "seed of weights and inputs"),
    ),
    setup=setup, run=run, check=check, tolerance=5e-2, timeout_s=3600.0, validate=_step_validate,
    checks=("max_abs_err", "fot_losses", "one_time_cached", "grad_cosine", "grad_max_rel_err", "grad_zero_max_abs",
            "grad_min_cosine", "grad_tensors", "optimizer_err", "update_rel_err", "update_tensor",
            "update_all_rel_err", "optimizer_rel_err", "optimizer_gross_errors", "optimizer_elements"),
    scopes=("forward", "loss", "backward", "optimizer", "share_prompts", "open", "owner_update", ONE_TIME),
    extrapolation=Extrapolation(axes=extrapolation_axes, at=lambda p, point: {**p, "extrapolate": False, **point}),
))
