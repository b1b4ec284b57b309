"""The session's party processes and the two test lanes.

* ``parties``: the test starts MPC parties (in this process through ``run_parties``/``run_one``, or
  in a ``python -m secfwt`` it starts).  ``make test-fast`` runs the others (``-m "not parties"``);
  a test without the mark that launches parties in this process fails, saying so.
* ``cold``: the test is about the cold launcher itself (processes, signals, folders), so its points
  start fresh processes.  Every other point of this process goes to one warm pool for the whole
  session (:mod:`secfwt.mpc.pool`), each point as independent as a cold run.

The rules hold from a test's set-up to its teardown, so also for the module fixtures its set-up
computes.
"""

import contextlib
import os
from pathlib import Path

import pytest

from secfwt.mpc import pool, process

TESTS = Path(__file__).resolve().parent

# no model hub here: a name that is not a local config fails at once instead of after the hub's retries
os.environ["HF_HUB_OFFLINE"] = "1"
if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs two workers on two cores: one torch thread each, as every party has (two
    # workers' spinning intra-op threads cost more than they compute); children inherit it
    os.environ["OMP_NUM_THREADS"] = "1"
    import torch

    torch.set_num_threads(1)
# party processes (warm or cold, and those of a `python -m secfwt` a test starts) import tests/party_tasks.py
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS), os.environ.get("PYTHONPATH")) if p)


def pytest_sessionstart(session):
    """One pool for the session's points: started at the first, restarted after a failed one,
    closed (no process or folder left) when the session ends."""
    session.config._secfwt_pool = contextlib.ExitStack()
    session.config._secfwt_pool.enter_context(pool.warm())


def pytest_sessionfinish(session):
    session.config._secfwt_pool.close()


#: the longest test files (CI's --durations, summed per file), run first: `make test`'s two workers
#: take whole files, and a long file started last keeps one worker busy while the other idles
LONGEST_FIRST = ("test_tuning_parity.py", "test_steps.py", "test_pool.py", "test_faults.py", "test_cli.py",
                 "test_tuning.py", "test_encoder.py", "test_persistent.py")


def pytest_collection_modifyitems(items):
    for item in items:
        if item.get_closest_marker("cold") and not item.get_closest_marker("parties"):
            item.add_marker(pytest.mark.parties)
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order


@contextlib.contextmanager
def _refused(nodeid: str):
    launch = process._launch

    def refuse(*args, **kwargs):
        raise AssertionError(f"{nodeid} starts MPC parties: mark it @pytest.mark.parties")

    process._launch = refuse
    try:
        with pool.cold():  # not the session's pool either, started or not
            yield
    finally:
        process._launch = launch


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    if item.get_closest_marker("cold"):
        rules = pool.cold()
    elif item.get_closest_marker("parties"):
        rules = contextlib.nullcontext()
    else:
        rules = _refused(item.nodeid)
    with rules:
        return (yield)
