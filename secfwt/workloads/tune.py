"""Workload ``tune``: a whole few-shot tuning run of pretrained MiniLM in the plaintext twin
(:func:`secfwt.tuning.runs.tune`): the trajectory of train loss and dev/test accuracy per FoT
generation or gradient step.  No parties and no counts: its MPC price per unit is the matching
``step`` record's.  Resumable: a restarted run continues from its checkpoint on the same trajectory.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .. import variants as attn
from ..results import PLAINTEXT_TWIN_CODE
from ..tuning.config import TuneConfig
from ..variants import METHODS, QKV_SETTING
from .base import GELU_PARAM, SEED_HELP, Param, Workload, register, seed_param, setting_param, task_names


@dataclass
class State:
    p: dict
    config: TuneConfig
    checkpoint: str | None = None  # where the run keeps its state (the runner names it in a sweep)


#: what the twin's module imports without its trajectories depending on it: a sweep's hours-long
#: records stay valid across changes there
TWIN_IGNORES = {
    "mpc": "nn.encoder holds the MPC encoder beside the plaintext forward; the twin runs no MPC code",
    "results.py": "the record format and the checkpoint's file handling, not the trajectory",
    "errors.py": "error types",
    "workloads/base.py": "parameter parsing; the parameters themselves are in the record",
}


#: the parameters that are the run's TuneConfig (the rest choose which `step` record prices it)
CONFIG_FIELDS = ("task", "method", "seed", "attention", "gelu", "budget", "eval_every", "prompt_tokens",
                 "intrinsic_dim", "population", "test_rows")


#: the run's defaults are TuneConfig's (one home: the workload's parameters read them)
DEFAULT = TuneConfig()


def setup(p: dict) -> State:
    return State(p, TuneConfig(**{k: p[k] for k in CONFIG_FIELDS}))


def run(s: State) -> dict:
    import sys

    from ..tuning import runs

    # a bar per run on a terminal
    return runs.tune(s.config, progress=sys.stderr.isatty(), checkpoint=s.checkpoint)


def check(s: State, out: dict) -> dict:
    """The trajectory is the result: a plaintext run has nothing to compare with."""
    return out


WORKLOAD = register(Workload(
    name="tune",
    description="a whole few-shot tuning run of pretrained MiniLM (sentence head) in the plaintext twin: "
                "trajectory of train loss and dev/test accuracy per generation (fot) or step (sft, prompt, lora); "
                "its MPC cost per unit is the matching `step` record's",
    params=(
        Param("task", str, DEFAULT.task, "few-shot task", choices=task_names()),
        Param("method", str, DEFAULT.method, "tuning method", choices=METHODS),
        seed_param(DEFAULT.seed, SEED_HELP + " and optimiser seed"),
        Param("attention", str, DEFAULT.attention, "attention variant", choices=attn.PAPER_PAIR),
        GELU_PARAM,
        setting_param(QKV_SETTING, "the MPC projection variant whose `step` price applies (the plaintext "
                                    "function is the same either way): "),
        Param("budget", int, DEFAULT.budget, "generations (fot) or optimiser steps (others)", positive=True, maximum=100000),
        Param("eval_every", int, DEFAULT.eval_every, "evaluate dev and test every this many units", positive=True),
        Param("prompt_tokens", int, DEFAULT.prompt_tokens, "soft-prompt vectors (fot, prompt)", positive=True),
        Param("intrinsic_dim", int, DEFAULT.intrinsic_dim, "CMA-ES search dimension d (fot)", positive=True, maximum=100000),
        Param("population", int, DEFAULT.population, "CMA-ES population (fot)", minimum=2, maximum=1000),
        Param("test_rows", int, DEFAULT.test_rows, "evaluate on the first N test rows (0: all)", minimum=0),
    ),
    setup=setup, run=run, check=check, tolerance=math.inf, plaintext=True, resumable=True, checks=(),
    code=PLAINTEXT_TWIN_CODE + ("workloads/tune.py",),
    code_ignores=TWIN_IGNORES,
))
