"""The workloads: one module each (``secfwt/workloads/<name>.py``), holding its declaration
(parameters, check fields, scope names, the code its records depend on), its typed state and its
party-side setup, run and check.  A workload is defined once and used by every face (CLI, asv,
pytest-benchmark).  What they are built from is :mod:`secfwt.workloads.base`.

Adding one: a module here that calls :func:`register`, and its name in the import below.
"""
# isort: skip_file

from __future__ import annotations

# registration order is the order `secfwt list` shows: the kernels, then the model and tuning
from . import attention, op, trig, gelu, layernorm, step, block, tune, fot_mpc  # noqa: F401  (each registers itself)
from .base import REGISTRY, SEED_MAX, Axis, Extrapolation, Param, Workload, get, register

__all__ = ["REGISTRY", "SEED_MAX", "Axis", "Extrapolation", "Param", "Workload", "get", "register"]
