"""Workload ``fot-mpc``: forward-only tuning in 2PC for a few generations with the data owner as
its own process (:mod:`secfwt.tuning.mpc_fot`): each candidate's loss and CMA-ES's ranking against
the plaintext twin, the tuned prompt's test predictions, and audits of every value opened between
the servers and of every frame from the owner.  Its typed state is
:class:`secfwt.tuning.mpc_fot.ServerState`.

The party-side functions import torch and CrypTen when called: the declaration is read without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import variants as attn
from ..results import ONE_TIME
from .base import (
    FIXED_INPUTS_PARAM,
    PROTOCOL_PARAMS,
    SEED_HELP,
    WEIGHT_MASKS_PARAM,
    Param,
    Workload,
    register,
    seed_param,
    task_names,
)

if TYPE_CHECKING:
    from ..tuning.mpc_fot import ServerState


def setup(p: dict) -> ServerState:
    from ..tuning import mpc_fot

    return mpc_fot.server_setup(p)


def run(state: ServerState) -> dict:
    from ..tuning import mpc_fot

    return mpc_fot.server_run(state)


def check(state: ServerState, out: dict) -> dict:
    from ..tuning import mpc_fot

    return mpc_fot.server_check(state, out)


def owner_program(owner, params: dict) -> dict:
    """The data owner's program (its own process): CMA-ES over the MPC losses, the twin beside it."""
    from ..tuning import mpc_fot

    return mpc_fot.owner_run(owner, params)


def _validate(p):
    from ..data import load

    available = len(load(p["task"], "test", p["seed"]))
    if p["test_offset"] + p["test_rows"] > available:
        raise ValueError(f"test_offset={p['test_offset']} + test_rows={p['test_rows']} exceeds the {available} test "
                         f"rows of {p['task']}")


WORKLOAD = register(Workload(
    name="fot-mpc",
    description="forward-only tuning in 2PC for a few generations with the data owner as its own process: "
                "each candidate's loss and CMA-ES's ranking against the plaintext twin, the tuned prompt's test "
                "predictions, and an audit of every value opened between the servers",
    params=(
        Param("task", str, "sst2", "few-shot task", choices=task_names()),
        seed_param(13, SEED_HELP + " and CMA-ES seed"),
        Param("attention", str, attn.SOFTMAX, "attention variant (the twin computes each one's function: exact "
              "softmax for every softmax variant)", choices=attn.VARIANTS, aliases=attn.ALIASES),
        *PROTOCOL_PARAMS,
        WEIGHT_MASKS_PARAM,
        FIXED_INPUTS_PARAM,
        Param("generations", int, 3, "CMA-ES generations", positive=True, maximum=1000),
        Param("population", int, 4, "CMA-ES population", minimum=2, maximum=1000),
        Param("train_rows", int, 8, "training sentences (the first rows of the draw)", positive=True, maximum=1024),
        Param("test_rows", int, 16, "test sentences for the tuned prompt's predictions", positive=True, maximum=10000),
        Param("test_offset", int, 0, "the first of those test rows (runs over consecutive windows add up to a "
                                     "larger test set: the agreement profile)", minimum=0, maximum=10000),
        Param("seq", int, 40, "public padded length (prompt slots included)", positive=True, maximum=512),
        Param("prompt_tokens", int, 4, "soft-prompt vectors", positive=True, maximum=512),
        Param("intrinsic_dim", int, 50, "CMA-ES search dimension d", positive=True, maximum=100000),
        Param("layers", int, -1, "MiniLM blocks (-1: all 6)", minimum=-1, maximum=6),
    ),
    setup=setup, run=run, check=check, tolerance=5e-2, timeout_s=3600.0, owner=owner_program, audit=True, validate=_validate,
    # the owner's result (the servers' check and the owner channel's: OWNER_CHECKS, added by Workload);
    # its test_rows and generations repeat the parameters of those names (the report's frame keeps the
    # parameter)
    checks=("max_abs_err", "generations", "loss_max_abs_err", "rankings_equal", "test_rows", "test_agreement",
            "test_acc_mpc", "test_acc_plain", "test_logits_max_abs_err", "test_disagreements"),
    scopes=("owner_inputs", "generation", "test", ONE_TIME),
))
