"""The launcher: run a function as N computing parties (+ the TTP dealer, + a data owner) in separate
OS processes on this machine (:func:`run_parties`), cold or in a warm pool (:mod:`secfwt.mpc.pool`),
over loopback or an emulated link (:mod:`secfwt.mpc.emulate`).  Each party process runs this
module's :func:`main` (``python -m secfwt.mpc.parties``); what the processes share and the
launcher's supervision of them live in :mod:`secfwt.mpc.process` (every name there is also
reachable from here).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path

from . import process
from .process import (  # noqa: F401  (re-exported: the names callers use from here)
    DEFAULT_STALL_S,
    LAUNCHER_ENV,
    LOOPBACK,
    OWNER,
    PROTOCOL_SEED_ENV,
    PROVIDERS,
    RUN_PREFIX,
    SECURITY,
    STALL_ENV,
    TEARDOWN_GRACE_S,
    TOKEN_ENV,
    PartyError,
    RunMismatch,
    StallWatch,
    Task,
    TerminateOnSignals,
    _check,
    _remove_stale_run_folders,
    main,
    owner_address,
    owner_command,
    party_main,
    peer_gone,
    who,
)


def __getattr__(name: str):
    """Every other name of :mod:`secfwt.mpc.process` (constants, helpers) as before the split."""
    return getattr(process, name)


def run_parties(task: Task, world_size: int = 2, provider: str = "ttp", timeout: float = 600.0,
                threads: int = 1, owner: Task | None = None, stall_s: float | None = None, emulate=None):
    """Run ``task`` as ``world_size`` parties (+ dealer for TTP) on this machine.

    Each party is a fresh ``python -m secfwt.mpc.parties`` process (no fork of the caller,
    so it works from scripts, notebooks, pytest and asv alike).  Returns the list of
    per-party results (index = rank).  Raises :class:`PartyError` if any process raises,
    dies or the run exceeds ``timeout`` seconds; no process is left behind either way.

    With ``owner``, a separate data-owner process (:mod:`secfwt.mpc.owner`) runs
    ``owner`` and the servers reach it through :class:`secfwt.mpc.owner.OwnerLink`; the
    return value is then ``(per-party results, the owner's output)``.

    Stalls: when no process of the run has used any CPU for ``stall_s`` seconds (default
    ``SECFWT_STALL_S`` or 60), the run is stuck (a stopped party, a deadlock): it ends with a
    :class:`PartyError` that names the stopped process, instead of waiting for ``timeout``.

    With ``emulate`` (a :class:`secfwt.links.Link`), the two computing parties talk over that link,
    emulated (:mod:`secfwt.mpc.emulate`: own namespaces, delayed and paced packets); the dealer and
    a data owner reach them over an unshaped path.  Everything it sets up is removed on return.
    """
    from . import owner as owner_mod

    if provider not in PROVIDERS:
        raise ValueError(f"unknown provider {provider!r}; choose one of {', '.join(PROVIDERS)}")
    if world_size < 2:
        raise ValueError("MPC needs at least two computing parties")
    from . import pool

    warm = pool.use(world_size, provider, threads, emulate)  # inside pool.warm(): one pool, many points
    if warm is not None:
        return warm.run(task, timeout, stall_s, owner=owner)
    ranks = list(range(world_size + (1 if provider == "ttp" else 0)))
    # gloo's sockets on loopback only (the rendezvous itself is a file: no port at all)
    env = {**os.environ, TOKEN_ENV: secrets.token_hex(16), LAUNCHER_ENV: str(os.getpid()),
           "GLOO_SOCKET_IFNAME": LOOPBACK}
    _remove_stale_run_folders()
    if emulate is not None and world_size != 2:
        raise ValueError("an emulated link joins exactly two computing parties (world size 2)")
    with TerminateOnSignals(), contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix=RUN_PREFIX))
        link = None
        if emulate is not None:
            from .emulate import EmulatedLink

            link = stack.enter_context(EmulatedLink(emulate))

        def place(role, cmd):  # (argv, env) of a process: in its namespace when the link is emulated
            if link is None:
                return cmd, env
            return link.command(role, cmd), {**env, **link.env(role)}

        (Path(tmp) / "launcher.pid").write_text(str(os.getpid()))
        master = (Path(tmp) / "rendezvous").as_uri()
        out_file = Path(tmp) / "result.json"
        procs, logs = {}, {}
        deadline = time.monotonic() + timeout
        watch = StallWatch(float(os.environ.get(STALL_ENV, DEFAULT_STALL_S)) if stall_s is None else stall_s,
                           traffic=link.traffic if link is not None else None)
        state: dict = {}  # _check's memory of the run's first failure
        try:
            if owner is not None:
                address_file, owner_out = Path(tmp) / "owner.addr", Path(tmp) / "owner.json"
                cmd = owner_command(owner, world_size, address_file, owner_out,
                                    host=link.offline_address if link is not None else None)
                procs[OWNER], logs[OWNER] = process._launch(*place("off", cmd), Path(tmp) / "owner.log")
                env[owner_mod.ADDRESS_ENV] = owner_address(address_file, procs, logs, world_size, deadline, timeout,
                                                           watch, state)
            for r in ranks:
                cmd = [sys.executable, "-m", "secfwt.mpc.parties", "--rank", str(r), "--world-size",
                       str(world_size), "--master", master, "--provider", provider, "--threads", str(threads),
                       "--task", json.dumps({"target": task.target, "kwargs": task.kwargs})]
                if r == 0:
                    cmd += ["--out", str(out_file)]
                procs[r], logs[r] = process._launch(*place("off" if r == world_size else r, cmd), Path(tmp) / f"rank{r}.log")
            try:
                while not _check(procs, logs, world_size, deadline, timeout, watch, state):
                    time.sleep(0.05)
                teardown_error = None
            except PartyError as exc:
                # rank 0 already holds every party's result: a failure after that (a party or the
                # dealer dying in the teardown) does not lose the measurement; it is marked instead.
                # Rank 0 may be writing it right now: a short grace while it is alive
                grace = time.monotonic() + TEARDOWN_GRACE_S
                while not out_file.exists() and procs[0].poll() is None and time.monotonic() < grace:
                    time.sleep(0.05)
                if not out_file.exists() or (owner is not None and not owner_out.exists()):
                    raise
                teardown_error = f"after the result was complete: {str(exc).splitlines()[0]}"
            parties = json.loads(out_file.read_text())
            if teardown_error is not None:
                for p in parties:
                    if isinstance(p, dict):
                        p["teardown_error"] = teardown_error
            return (parties, json.loads(owner_out.read_text())) if owner is not None else parties
        finally:
            process._reap(procs, logs)


if __name__ == "__main__":
    sys.exit(main())
