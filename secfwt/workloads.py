"""The workload registry: name -> typed parameters -> (setup, run, check).

A workload is defined once here and used by every face (CLI, asv, pytest-benchmark).
Inside each party process, :func:`secfwt.runner.measure` calls

* ``setup(params)``: seeded plaintext inputs and their secret sharing (not metered;
  inputs come from party 0, the data owner, by pseudo-random zero sharing, which
  costs no communication);
* ``run(state)``: the measured MPC computation, under the meter;
* ``check(state, out)``: opens the output (not metered) and compares it with the
  plaintext PyTorch computation on the same inputs.  Returns error fields.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from . import variants as attn  # the attention registry (attn.VARIANTS...), as the nn modules name it
from .errors import InputError
from .results import MEASURING_CODE, PLAINTEXT_TWIN_CODE
from .variants import (
    FIXED_INPUT,
    FOT,
    FOT_MODES,
    GELU,
    GELUS,
    HEADS,
    INV_SQRT,
    INV_SQRTS,
    METHODS,
    MODEL_NAMES,
    OPS,
    OPTIMIZERS,
    PROMPT_DEPTHS,
    QKV_SETTING,
    TRUNCATION,
    WEIGHT_MASK,
    Setting,
    method,
)


@dataclass(frozen=True)
class Param:
    name: str
    kind: type
    default: object
    help: str
    choices: tuple = ()
    positive: bool = False
    aliases: dict = field(default_factory=dict)
    minimum: float | None = None
    #: upper bound of a number: what the suite was built and checked for (sizes bound memory)
    maximum: float | None = None

    def parse(self, raw) -> object:
        """Convert one value from the command line (or Python) and validate it."""
        value = raw
        if isinstance(raw, str) and self.kind is bool:
            text = raw.strip().lower()
            if text not in ("true", "false", "1", "0", "yes", "no"):
                raise InputError(f"parameter {self.name}: cannot read {raw!r} as a boolean (true/false)")
            return text in ("true", "1", "yes")
        if isinstance(raw, str):
            text = self.aliases.get(raw.strip(), raw.strip())
            try:
                value = self.kind(text) if self.kind is not int else int(text, 10)
            except ValueError:
                raise InputError(f"parameter {self.name}: cannot read {raw!r} as {self.kind.__name__}") from None
        elif self.kind is float and isinstance(raw, int):
            value = float(raw)
        if not isinstance(value, self.kind) or (isinstance(value, bool) and self.kind is not bool):
            raise InputError(f"parameter {self.name}: expected {self.kind.__name__}, got {raw!r}")
        value = self.aliases.get(value, value) if isinstance(value, str) else value
        if self.choices and value not in self.choices:
            raise InputError(f"parameter {self.name}: {raw!r} is not one of {', '.join(map(str, self.choices))}")
        if self.positive and not value > 0:
            raise InputError(f"parameter {self.name}: must be positive, got {raw!r}")
        if self.kind is float and not math.isfinite(value):
            raise InputError(f"parameter {self.name}: must be a finite number, got {raw!r}")
        if self.minimum is not None and value < self.minimum:
            raise InputError(f"parameter {self.name}: must be at least {self.minimum}, got {raw!r}")
        if self.maximum is not None and value > self.maximum:
            bound = f"{self.maximum:.0f}" if float(self.maximum).is_integer() else f"{self.maximum:g}"
            raise InputError(f"parameter {self.name}: must be at most {bound}, got {raw!r}")
        return value


#: seeds reach torch, numpy and CMA-ES: numpy's range is the narrowest
SEED_MAX = 2**32 - 1


def _seed(default: int, help: str) -> Param:
    return Param("seed", int, default, help, minimum=0, maximum=SEED_MAX)


@dataclass(frozen=True)
class Extrapolation:
    """A workload's own hooks for a run measured at two depths (and two batches) and extrapolated
    (:func:`secfwt.runner._run_extrapolated`): which parameters are the depth and the batch is the
    workload's business, not the runner's."""

    depth_points: Callable  # params -> two consecutive block counts to measure
    target_depth: Callable  # params -> the block count the record stands for
    target_batch: Callable  # params -> the batch the record stands for
    at: Callable  # (params, depth, batch) -> the parameters of one measured run


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    params: tuple
    setup: Callable
    run: Callable
    check: Callable
    tolerance: float  # max_abs_err above this marks the record 'inaccurate'
    timeout_s: float = 900.0
    #: how the workload is measured small and extrapolated when its ``extrapolate`` parameter is
    #: set (runner._run_extrapolated); None: it has no such parameter
    extrapolation: Extrapolation | None = None
    #: runs in this process on the plaintext twin (no parties, no counts): tuning trajectories
    plaintext: bool = False
    #: rejects invalid combinations of valid values before any process starts (raises ValueError,
    #: which resolve() reports as an InputError)
    validate: Callable = lambda params: None
    #: ``module:function`` run by a separate data-owner process (see secfwt.mpc.owner), or None
    owner: str | None = None
    #: record every online opening (the meter's reveal audit) in ``reveal_audit``
    audit: bool = False
    #: the code (paths under secfwt/) whose digest a record carries (:func:`secfwt.results.code_version`)
    code: tuple[str, ...] = MEASURING_CODE
    #: a run that saves its state and continues from it when restarted (``state["checkpoint"]``: a path)
    resumable: bool = False

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise InputError(f"workload {self.name} has no parameter {name!r} "
                         f"(it has: {', '.join(p.name for p in self.params)})")

    def resolve(self, given: dict) -> dict:
        """Full, validated parameter set: defaults filled in, aliases canonicalised."""
        out = {p.name: p.default for p in self.params}
        for key, raw in given.items():
            out[key] = self.param(key).parse(raw)
        try:
            self.validate(out)
        except ValueError as exc:  # a combination of valid values that does not go together
            raise InputError(str(exc)) from None
        return out


REGISTRY: dict[str, Workload] = {}


def register(w: Workload) -> Workload:
    REGISTRY[w.name] = w
    return w


def get(name: str) -> Workload:
    try:
        return REGISTRY[name]
    except KeyError:
        raise InputError(f"unknown workload {name!r}; known: {', '.join(sorted(REGISTRY))}") from None


def _micro(fn: str):
    return _lazy(".micro", fn)


def _lazy(module: str, fn: str):
    """``module.fn`` imported on first call (keeps torch-heavy modules out of ``secfwt list``)."""
    def call(*args):
        import importlib

        return getattr(importlib.import_module(module, __package__), fn)(*args)

    return call


# -- attention ----------------------------------------------------------------------------------
register(Workload(
    name="attention",
    description="core of one multi-head attention on secret-shared Q, K, V (scores/features, "
                "normaliser, context); error against the plaintext twin of the same variant "
                "(max_abs_err) and against exact softmax attention (approx_err)",
    params=(
        Param("impl", str, attn.VARIANTS[0], "attention variant", choices=attn.VARIANTS, aliases=attn.ALIASES),
        Param("seq", int, 64, "sequence length L", positive=True, maximum=8192),
        Param("heads", int, 4, "attention heads", positive=True, maximum=64),
        Param("head_dim", int, 32, "dimension per head", positive=True, maximum=1024),
        Param("features", int, 32, "random features D (RFA only; phi has 2D entries)", positive=True, maximum=4096),
        Param("batch", int, 1, "batch size", positive=True, maximum=256),
        _seed(0, "seed of inputs and random features"),
        Param("backward", bool, False, "also the gradients of Q, K and V for a seeded upstream gradient (its cost "
                                       "in scope backward)"),
    ),
    setup=_micro("attention_setup"), run=_micro("attention_run"), check=_micro("attention_check"), tolerance=5e-2,
))


# -- single operations (meter cross-checks, micro-benchmarks) ----------------------------------


register(Workload(
    name="op",
    description="one CrypTen operation on secret-shared size x size inputs (meter cross-checks)",
    params=(
        Param("op", str, "mul", "operation", choices=OPS),
        Param("size", int, 16, "side of the square inputs", positive=True, maximum=2048),
        _seed(0, "input seed"),
    ),
    setup=_micro("op_setup"), run=_micro("op_run"), check=_micro("op_check"), tolerance=1e-2,
))


# -- trigonometric functions: SecFwT's one-round protocol vs CrypTen's cossin ------------------
register(Workload(
    name="trig",
    description="cos and sin of w*x on secret-shared x ~ U(-range, range): SecFwT's one-round protocol "
                "(impl=onepass) against CrypTen's cossin (impl=builtin)",
    params=(
        Param("impl", str, "onepass", "protocol", choices=("onepass", "builtin")),
        Param("size", int, 4096, "number of input elements", positive=True, maximum=16777216),
        Param("w", float, 1.0, "public frequency w (accepts pi, 2pi)", aliases={"pi": repr(math.pi),
                                                                              "2pi": repr(2 * math.pi)},
              minimum=-1e4, maximum=1e4),
        Param("range", float, 10.0, "x is drawn from U(-range, range)", positive=True, maximum=1e4),
        _seed(0, "input seed"),
    ),
    setup=_micro("trig_setup"), run=_micro("trig_run"), check=_micro("trig_check"), tolerance=1e-3,
))


# -- GeLU per element: CrypTen-style tanh form vs the one-round Fourier series -------------------
def _gelu_validate(p):
    if p["clamp"] and "clamp" not in GELU.option(p["impl"]).takes:
        raise ValueError(f"clamp is an option of the {', '.join(o.name for o in GELU.options if 'clamp' in o.takes)} "
                         f"GeLU; the {p['impl']} GeLU has none")


register(Workload(
    name="gelu",
    description="GeLU of secret-shared x ~ U(-range, range), against the exact erf GeLU: the tanh form "
                "(CrypTen ops, optional clamp of its cube) or the Fourier series (one trig opening + one product)",
    params=(
        Param("impl", str, "fourier", "GeLU variant", choices=GELUS),
        Param("clamp", bool, False, "tanh: clamp the cube's input to +-5 (needed beyond |x| ~ 8)"),
        Param("size", int, 4096, "number of input elements", positive=True, maximum=16777216),
        Param("range", float, 8.0, "x is drawn from U(-range, range)", positive=True, maximum=1e4),
        _seed(0, "input seed"),
        Param("backward", bool, False, "also x's gradient for a seeded upstream gradient (its cost in scope backward)"),
    ),
    setup=_micro("trig_setup"), run=_micro("gelu_run"), check=_micro("gelu_check"), tolerance=1e-3, validate=_gelu_validate,
))


# -- LayerNorm per token: CrypTen's inverse square root against the fast one ---------------------
def _layernorm_validate(p):
    if not p["low"] < p["high"]:
        raise ValueError(f"low={p['low']} must be below high={p['high']}")


register(Workload(
    name="layernorm",
    description="LayerNorm over rows whose variances span [low, high], against float64: CrypTen's inverse "
                "square root (impl=crypten) or the fast one (impl=fast: shorter exp start, 2-round Newton steps)",
    params=(
        Param("impl", str, INV_SQRT.default, "inverse square root", choices=INV_SQRTS),
        Param("rows", int, 256, "tokens (one inverse square root each)", positive=True, maximum=1048576),
        Param("hidden", int, 384, "values per token", minimum=2, maximum=65536),
        Param("low", float, 0.1, "smallest variance", positive=True, maximum=1e6),
        Param("high", float, 100.0, "largest variance", positive=True, maximum=1e6),
        _seed(0, "input seed"),
    ),
    setup=_micro("layernorm_setup"), run=_micro("layernorm_run"),
    check=_micro("layernorm_check"), tolerance=5e-2,
    validate=_layernorm_validate,
))


def _data_choices():
    from . import data

    return tuple(data.TASKS), data.SEEDS


def _tasks() -> tuple[str, ...]:
    return _data_choices()[0]


#: a few-shot draw: any non-negative seed (the committed ones read a file, others are drawn from the pool)
_SEED_HELP = "data draw (16 per class per split; committed: 13, 21, 42, 87, 100; others drawn from the pool)"


# -- one tuning step of each method (SFT, prompt tuning, LoRA, forward-only CMA-ES) ---------------
def _model_name(text: str) -> str:
    """A named model, or a local config.json (or a folder holding one) that parses as JSON: a name
    that is neither never reaches the model hub."""
    import json
    from pathlib import Path

    if text in MODEL_NAMES:
        return text
    path = Path(text)
    config = path / "config.json" if path.is_dir() else path
    if not config.is_file():
        raise InputError(f"unknown model {text!r}: use one of {', '.join(MODEL_NAMES)} or the path of a config.json")
    try:
        cfg = json.loads(config.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"model {text!r}: {config} is not a readable JSON config ({exc})") from None
    if not isinstance(cfg, dict) or cfg.get("model_type") not in ("bert", "roberta"):
        raise InputError(f"model {text!r}: only BERT and RoBERTa configs are supported "
                         f"(model_type {cfg.get('model_type') if isinstance(cfg, dict) else None!r})")
    _check_model_sizes(text, cfg)
    return text


#: a config's sizes, each a positive integer (absent: the model type's default)
MODEL_SIZES = ("hidden_size", "num_attention_heads", "num_hidden_layers", "intermediate_size", "vocab_size",
               "max_position_embeddings")


def _check_model_sizes(text: str, cfg: dict) -> None:
    """Sizes a model could be built from, checked here so that a bad config.json is one line and
    exit 2 before any party starts (not a traceback in a party)."""
    bad = {k: cfg[k] for k in MODEL_SIZES if k in cfg and not (isinstance(cfg[k], int) and not isinstance(cfg[k], bool)
                                                                and cfg[k] > 0)}
    if bad:
        raise InputError(f"model {text!r}: sizes must be positive integers: "
                         + ", ".join(f"{k}={v!r}" for k, v in bad.items()))
    from transformers import AutoConfig

    full = AutoConfig.for_model(cfg["model_type"], **{k: cfg[k] for k in MODEL_SIZES if k in cfg})
    if full.hidden_size % full.num_attention_heads:
        raise InputError(f"model {text!r}: hidden_size {full.hidden_size} is not a multiple of num_attention_heads "
                         f"{full.num_attention_heads}")


def _model_depth(model: str) -> int:
    from .nn.encoder import model_config

    return model_config(model).num_hidden_layers


class _ModelParam(Param):
    def parse(self, raw):
        return _model_name(str(raw).strip())


def _setting_param(setting: Setting, help_prefix: str = "") -> Param:
    """A workload parameter choosing among a protocol setting's options (its registry entry gives
    the choices, the paper's default and the help)."""
    return Param(setting.param, str, setting.default, help_prefix + setting.help(), choices=setting.names)


#: the protocol settings of every workload that runs the encoder
_GELU = _setting_param(GELU)
_QKV = _setting_param(QKV_SETTING)


#: run-level amortisation of forward-only tuning (see secfwt.mpc.persistent); costs paid once per run
#: go to the record's ``one_time``, apart from the per-generation costs
_WEIGHT_MASKS = _setting_param(WEIGHT_MASK, "Beaver masks of the frozen weights: ")
_FIXED_INPUTS = _setting_param(FIXED_INPUT, "the training batch's token embeddings: ")


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


_INV_SQRT = _setting_param(INV_SQRT, "inverse square root of LayerNorm and the sentence head: ")
_TRUNCATION = _setting_param(TRUNCATION, "dividing a shared value by a public integer: ")


def _step_validate(p):
    m = method(p["method"])
    _amortised_where_fixed(p)
    if p["prompt_depth"] != "shallow" and not (m.prompt and m.gradient):
        raise ValueError(f"prompt_depth={p['prompt_depth']} applies to method=prompt only")
    if p["task"] != "synthetic" and p["model"] != "minilm":
        raise ValueError(f"task={p['task']} is real text for MiniLM's tokenizer: use model=minilm")
    if p["task"] != "synthetic":
        from .data import get_task

        head = get_task(p["task"]).head
        if p["head"] != head:
            raise ValueError(f"task={p['task']} needs head={head} (MiniLM ships no masked-LM head; pair tasks "
                             "compare two sentences)")
    elif p["head"] == "pair":
        raise ValueError("head=pair compares the two sentences of a pair task's examples: give task=mrpc or rte")


_step_setup, _step_run, _step_check = (_lazy(".tuning.steps", fn) for fn in ("setup", "run", "check"))


register(Workload(
    name="step",
    description="one tuning step in 2PC: sft (SGD/Adam in MPC), prompt (gradient prompt tuning), lora, "
                "or fot (one CMA-ES generation of forward passes, logits opened to the data owner); "
                "max_abs_err compares the label logits with the plaintext twin, grad_min_cosine the gradients",
    params=(
        Param("method", str, FOT, "tuning method", choices=METHODS),
        _ModelParam("model", str, "tiny", "tiny, small, base, large (RoBERTa), minilm (pretrained) or a config.json"),
        Param("layers", int, -1, "encoder blocks to build (-1: the model's own depth)", minimum=-1, maximum=48),
        Param("seq", int, 32, "sequence length", positive=True, maximum=4096),
        Param("batch", int, 1, "examples per step", positive=True, maximum=4096),
        Param("prompt_tokens", int, 4, "soft-prompt vectors (prompt, fot)", positive=True, maximum=512),
        Param("prompt_depth", str, "shallow", "prompt: shallow (P vectors at the input) or "
                                              "deep (P-tuning v2: P vectors before every block, full backward)",
              choices=PROMPT_DEPTHS),
        Param("attention", str, attn.SOFTMAX, "attention variant", choices=attn.VARIANTS),
        Param("features", int, 64, "random features (RFA)", positive=True, maximum=4096),
        _GELU,
        _QKV,
        _INV_SQRT,
        _TRUNCATION,
        _WEIGHT_MASKS,
        _FIXED_INPUTS,
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
              choices=("synthetic",) + _tasks()),
        Param("data_seed", int, 13, "the task's draw whose training rows a real-text step reads", minimum=0),
        Param("loss_scale", float, 1024.0, "public factor on the loss gradient (16-bit fixed point)", positive=True, maximum=2.0**20),
        Param("extrapolate", bool, False, "measure 0 and 1 blocks (LoRA: 1 and 2), and batches 1 and 2 when "
                                          "batch > 8, and extrapolate to the full depth and batch (exact "
                                          "rounds/bytes, approximate times)"),
        _seed(0, "seed of weights and inputs"),
    ),
    setup=_step_setup, run=_step_run, check=_step_check, tolerance=5e-2, timeout_s=3600.0, validate=_step_validate,
    # LoRA's first block needs no input gradient, and a deep prompt's first block takes the input
    # prompt, so their repeating block is the second one
    extrapolation=Extrapolation(
        depth_points=lambda p: (1, 2) if method(p["method"]).adapters or p["prompt_depth"] == "deep" else (0, 1),
        target_depth=lambda p: p["layers"] if p["layers"] >= 0 else _model_depth(p["model"]),
        target_batch=lambda p: p["batch"],
        at=lambda p, depth, batch: {**p, "extrapolate": False, "layers": depth, "batch": batch}),
))


# -- one encoder block ---------------------------------------------------------------------------
def _block(fn):
    return _lazy(".nn.block", fn)


register(Workload(
    name="block",
    description="one encoder block on a secret hidden state: forward, or forward and backward "
                "(weight and input gradients), against the plaintext twin's block",
    params=(
        _ModelParam("model", str, "tiny", "tiny, small, base, large (RoBERTa), minilm or a config.json"),
        Param("seq", int, 32, "sequence length", positive=True, maximum=4096),
        Param("batch", int, 1, "batch size", positive=True, maximum=256),
        Param("attention", str, attn.SOFTMAX, "attention variant", choices=attn.VARIANTS),
        Param("features", int, 64, "random features (RFA)", positive=True, maximum=4096),
        _GELU,
        _QKV,
        _INV_SQRT,
        _TRUNCATION,
        Param("backward", bool, False, "also back-propagate a seeded upstream gradient"),
        Param("loss_scale", float, 1024.0, "public factor on the upstream gradient", positive=True, maximum=2.0**20),
        _seed(0, "seed of weights and inputs"),
    ),
    setup=_block("setup"), run=_block("run"), check=_block("check"), tolerance=5e-2, timeout_s=3600.0,
))


# -- whole tuning runs (plaintext twin; their MPC price comes from `step` records) ----------------
def _tune_setup(p):
    from .tuning import runs

    fields = {k: p[k] for k in ("task", "method", "seed", "attention", "gelu", "budget", "eval_every",
                                "prompt_tokens", "intrinsic_dim", "population", "test_rows")}
    return {"p": p, "config": runs.TuneConfig(**fields)}


def _tune_run(s):
    import sys

    from .tuning import runs

    # a bar per run on a terminal; the runner names a checkpoint file when the sweep has a store
    return runs.tune(s["config"], progress=sys.stderr.isatty(), checkpoint=s.get("checkpoint"))


def _tune_check(s, out):
    return out


register(Workload(
    name="tune",
    description="a whole few-shot tuning run of pretrained MiniLM (sentence head) in the plaintext twin: "
                "trajectory of train loss and dev/test accuracy per generation (fot) or step (sft, prompt, lora); "
                "its MPC cost per unit is the matching `step` record's",
    params=(
        Param("task", str, "sst2", "few-shot task", choices=_tasks()),
        Param("method", str, FOT, "tuning method", choices=METHODS),
        _seed(13, _SEED_HELP + " and optimiser seed"),
        Param("attention", str, attn.SOFTMAX, "attention variant", choices=attn.PAPER_PAIR),
        _GELU,
        _setting_param(QKV_SETTING, "the MPC projection variant whose `step` price applies (the plaintext "
                                    "function is the same either way): "),
        Param("budget", int, 25, "generations (fot) or optimiser steps (others)", positive=True, maximum=100000),
        Param("eval_every", int, 5, "evaluate dev and test every this many units", positive=True),
        Param("prompt_tokens", int, 8, "soft-prompt vectors (fot, prompt)", positive=True),
        Param("intrinsic_dim", int, 500, "CMA-ES search dimension d (fot)", positive=True, maximum=100000),
        Param("population", int, 20, "CMA-ES population (fot)", minimum=2, maximum=1000),
        Param("test_rows", int, 0, "evaluate on the first N test rows (0: all)", minimum=0),
    ),
    setup=_tune_setup, run=_tune_run, check=_tune_check, tolerance=math.inf, plaintext=True,
    code=PLAINTEXT_TWIN_CODE, resumable=True,
))


# -- forward-only tuning end to end in MPC, with a separate data owner ----------------------------
def _fot_mpc(fn):
    return _lazy(".tuning.mpc_fot", fn)


register(Workload(
    name="fot-mpc",
    description="forward-only tuning in 2PC for a few generations with the data owner as its own process: "
                "each candidate's loss and CMA-ES's ranking against the plaintext twin, the tuned prompt's test "
                "predictions, and an audit of every value opened between the servers",
    params=(
        Param("task", str, "sst2", "few-shot task", choices=_tasks()),
        _seed(13, _SEED_HELP + " and CMA-ES seed"),
        Param("attention", str, attn.SOFTMAX, "attention variant (the twin computes each one's function: exact "
              "softmax for every softmax variant)", choices=attn.VARIANTS, aliases=attn.ALIASES),
        _GELU,
        _QKV,
        _INV_SQRT,
        _TRUNCATION,
        _WEIGHT_MASKS,
        _FIXED_INPUTS,
        Param("generations", int, 3, "CMA-ES generations", positive=True, maximum=1000),
        Param("population", int, 4, "CMA-ES population", minimum=2, maximum=1000),
        Param("train_rows", int, 8, "training sentences (the first rows of the draw)", positive=True, maximum=1024),
        Param("test_rows", int, 16, "test sentences for the tuned prompt's predictions", positive=True, maximum=10000),
        Param("seq", int, 40, "public padded length (prompt slots included)", positive=True, maximum=512),
        Param("prompt_tokens", int, 4, "soft-prompt vectors", positive=True, maximum=512),
        Param("intrinsic_dim", int, 50, "CMA-ES search dimension d", positive=True, maximum=100000),
        Param("layers", int, -1, "MiniLM blocks (-1: all 6)", minimum=-1, maximum=6),
    ),
    setup=_fot_mpc("server_setup"), run=_fot_mpc("server_run"), check=_fot_mpc("server_check"),
    tolerance=5e-2, timeout_s=3600.0, owner="secfwt.tuning.mpc_fot:owner_run", audit=True,
))
