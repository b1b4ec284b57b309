"""What every workload module is built from: typed parameters, the :class:`Workload` declaration
and the registry it goes into, and the parameters several workloads share.

A workload module (``secfwt/workloads/<name>.py``) declares its parameters, check fields, scope
names and code here, and holds its party-side code: inside each party process
:func:`secfwt.runner.measure` calls

* ``setup(params)``: seeded plaintext inputs and their secret sharing, a typed state (not
  metered; inputs come from party 0, the data owner, by pseudo-random zero sharing, which costs no
  communication);
* ``run(state)``: the measured MPC computation, under the meter;
* ``check(state, out)``: opens the output (not metered) and compares it with the plaintext
  PyTorch computation on the same inputs.  Returns the check fields.

This module imports no torch: ``secfwt list`` and every input check read the declarations alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from ..errors import InputError
from ..results import COST_FIELDS, MEASURING_CODE, RECORD_FIELDS
from ..variants import FIXED_INPUT, GELU, INV_SQRT, MODEL_NAMES, QKV_SETTING, TRUNCATION, WEIGHT_MASK, Setting


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


def seed_param(default: int, help: str) -> Param:
    return Param("seed", int, default, help, minimum=0, maximum=SEED_MAX)


@dataclass(frozen=True)
class Axis:
    """One parameter a run is measured small along and extrapolated in: the one or two values measured
    (two: costs are affine along it, so the line through them is exact for counts) and the target."""

    param: str  # the parameter ('layers', 'batch', 'population')
    measured: tuple[int, ...]
    target: int


@dataclass(frozen=True)
class Extrapolation:
    """A workload's own hooks for a run measured small and extrapolated multilinearly
    (:func:`secfwt.runner._run_extrapolated`): which parameters are the axes (the depth first), which
    values are measured and what a measured run's parameters are is the workload's business, not the
    runner's."""

    axes: Callable  # params -> [Axis, ...]: the depth first
    at: Callable  # (params, {axis param: value}) -> the parameters of one measured run


#: the checks of every workload with a data owner: what the servers' check returns
#: (``server_traffic``) and what the runner adds from the owner channel (secfwt.runner.run_one)
OWNER_CHECKS = ("server_traffic", "owner_traffic", "owner_audit", "owner_refused_connections")


@dataclass(frozen=True)
class Workload:
    """One workload: its parameters, its party-side functions, and what its records hold."""

    name: str
    description: str
    params: tuple
    setup: Callable  # params -> the workload's typed state
    run: Callable  # state -> output (metered)
    check: Callable  # (state, output) -> check fields
    tolerance: float  # max_abs_err above this marks the record 'inaccurate'
    #: the fields ``check`` may return (a record's ``check_fields``; the report's columns come from
    #: them): a field not declared here fails the run, so none reaches the records unannounced.
    #: A plaintext workload's results are its outcome (a trajectory), not checks: it declares none
    checks: tuple[str, ...] = ("max_abs_err",)
    #: the top-level meter scopes ``run`` may open (``forward``, ``backward``...; each becomes the
    #: report's ``<scope>_rounds``... columns): an undeclared one fails the run
    scopes: tuple[str, ...] = ()
    timeout_s: float = 900.0
    #: how the workload is measured small and extrapolated when its ``extrapolate`` parameter is
    #: set (runner._run_extrapolated); None: it has no such parameter
    extrapolation: Extrapolation | None = None
    #: runs in this process on the plaintext twin (no parties, no counts): tuning trajectories
    plaintext: bool = False
    #: rejects invalid combinations of valid values before any process starts (raises ValueError,
    #: which resolve() reports as an InputError)
    validate: Callable = lambda params: None
    #: the program of a separate data-owner process (a module-level function (owner, params) ->
    #: its result, whose fields join the checks; see secfwt.mpc.owner), or None; the servers'
    #: ``check`` then returns their OwnerLink traffic as ``server_traffic``, and the runner adds the
    #: owner channel's traffic and audit (:data:`OWNER_CHECKS`, declared here for every such workload)
    owner: Callable | None = None
    #: record every online opening (the meter's reveal audit) in ``reveal_audit``
    audit: bool = False
    #: the code (paths under secfwt/) whose digest a record carries (:func:`secfwt.results.code_version`);
    #: None: the shared measuring code, base.py and the workload's own module(s) (those of setup, run,
    #: check, owner), so that adding or editing one workload leaves the others' records current.
    #: tests/test_workloads.py checks that it covers every secfwt module the workload imports
    code: tuple[str, ...] | None = None
    #: modules the workload's module imports that its results do not depend on (each with its reason)
    code_ignores: dict = field(default_factory=dict)
    #: a run that saves its state and continues from it when restarted (its state's ``checkpoint``: a path)
    resumable: bool = False

    def __post_init__(self):
        own = sorted({f.__module__ for f in (self.setup, self.run, self.check, self.owner) if f is not None})
        if self.code is None:
            modules = tuple(m.removeprefix("secfwt.").replace(".", "/") + ".py" for m in own)
            object.__setattr__(self, "code", MEASURING_CODE + ("workloads/base.py",) + modules)
        if self.owner is not None:  # what the runner adds from the owner channel
            object.__setattr__(self, "checks", tuple(dict.fromkeys(self.checks + OWNER_CHECKS)))
        clash = set(self.checks) & RECORD_FIELDS
        if clash:
            raise ValueError(f"workload {self.name}: check field(s) {sorted(clash)} are the record's own fields")
        clash = {f"{s}_{c}" for s in self.scopes for c in COST_FIELDS} & RECORD_FIELDS
        if clash:  # the report's <scope>_<counter> columns would overwrite the record's own
            raise ValueError(f"workload {self.name}: scope name(s) whose report columns {sorted(clash)} are the "
                             "record's own fields")

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise InputError(f"workload {self.name} has no parameter {name!r} "
                         f"(it has: {', '.join(p.name for p in self.params)})")

    def declared_checks(self, checks: dict) -> dict:
        """``checks`` as the workload returned them, refused if they hold a field it does not declare."""
        undeclared = sorted(set(checks) - set(self.checks))
        if undeclared:
            raise ValueError(f"workload {self.name} returned check field(s) {', '.join(undeclared)} that it does "
                             f"not declare (Workload.checks: {', '.join(self.checks)})")
        return checks

    def declared_scopes(self, scopes: dict) -> dict:
        """The meter's scopes, refused if a top-level one is not declared."""
        undeclared = sorted({path.split(".", 1)[0] for path in scopes if path} - set(self.scopes))
        if undeclared:
            raise ValueError(f"workload {self.name} opened meter scope(s) {', '.join(undeclared)} that it does not "
                             f"declare (Workload.scopes: {', '.join(self.scopes) or 'none'})")
        return scopes

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


# -- parameters several workloads share ----------------------------------------------------------
def task_names() -> tuple[str, ...]:
    """The few-shot tasks (the data registry's names)."""
    from .. import data

    return tuple(data.TASKS)


#: a few-shot draw: any non-negative seed (the committed ones read a file, others are drawn from the pool)
SEED_HELP = "data draw (16 per class per split; committed: 13, 21, 42, 87, 100; others drawn from the pool)"


def model_name(text: str) -> str:
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
    check_model_sizes(text, cfg)
    return text


#: a config's sizes, each a positive integer (absent: the model type's default)
MODEL_SIZES = ("hidden_size", "num_attention_heads", "num_hidden_layers", "intermediate_size", "vocab_size",
               "max_position_embeddings")


def check_model_sizes(text: str, cfg: dict) -> None:
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


def model_depth(model: str) -> int:
    from ..nn.encoder import model_config

    return model_config(model).num_hidden_layers


def model_width(model: str) -> int:
    from ..nn.encoder import model_config

    return model_config(model).hidden_size


class ModelParam(Param):
    """A model: one of the named ones or a config.json (checked before any party starts)."""

    def parse(self, raw):
        return model_name(str(raw).strip())


def setting_param(setting: Setting, help_prefix: str = "") -> Param:
    """A workload parameter choosing among a protocol setting's options (its registry entry gives
    the choices, the paper's default and the help)."""
    return Param(setting.param, str, setting.default, help_prefix + setting.help(), choices=setting.names)


#: the protocol settings of every workload that runs the encoder
GELU_PARAM = setting_param(GELU)
QKV_PARAM = setting_param(QKV_SETTING)
INV_SQRT_PARAM = setting_param(INV_SQRT, "inverse square root of LayerNorm and the sentence head: ")
TRUNCATION_PARAM = setting_param(TRUNCATION, "dividing a shared value by a public integer: ")
#: the encoder's protocol settings (what EncoderSpec.of reads beside the attention), in every
#: workload that runs the encoder
PROTOCOL_PARAMS = (GELU_PARAM, QKV_PARAM, INV_SQRT_PARAM, TRUNCATION_PARAM)
#: run-level amortisation of forward-only tuning (see secfwt.mpc.persistent); costs paid once per run
#: go to the record's ``one_time``, apart from the per-generation costs
WEIGHT_MASKS_PARAM = setting_param(WEIGHT_MASK, "Beaver masks of the frozen weights: ")
FIXED_INPUTS_PARAM = setting_param(FIXED_INPUT, "the training batch's token embeddings: ")
