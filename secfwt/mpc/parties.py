"""Run a function as N computing parties (+ the TTP dealer) in separate OS processes.

Each party is a process that joins a ``torch.distributed`` gloo group over TCP
(``tcp://HOST:PORT``); under the TTP provider the dealer is one more process with
rank N, running CrypTen's ``TTPServer``.  The launcher picks a free port, starts
every process, and watches them: a party that raises or dies fails the whole run
within about a second with that party's traceback, and every process is killed
and reaped before the error is raised.  Every run has a timeout.

The same :func:`party_main` runs one party per host for multi-machine runs:
``secfwt party --rank R --world-size N --master HOST:PORT WORKLOAD ...``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

PROVIDERS = ("ttp", "tfp")
SECURITY = {
    "ttp": "semi-honest 2PC with a trusted dealer (the paper's setting)",
    "tfp": "INSECURE against party 0: party 0 generates all correlated randomness",
}


class PartyError(RuntimeError):
    """A party raised, died or timed out; the message carries its traceback."""


@dataclass(frozen=True)
class Task:
    """What each party runs: ``module:function`` called with ``kwargs`` under a meter."""

    target: str
    kwargs: dict

    def resolve(self):
        module, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module), name)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def party_main(rank: int, world_size: int, master: str, provider: str, task: Task, threads: int = 1):
    """Body of one process: rank < world_size is a computing party, rank == world_size the dealer.

    Returns, on rank 0, the list of every computing party's result (gathered after
    the measured work, outside the meter); on other ranks ``None``.
    """
    if provider not in PROVIDERS:
        raise ValueError(f"unknown provider {provider!r}; choose one of {', '.join(PROVIDERS)}")
    os.environ.update(
        DISTRIBUTED_BACKEND="gloo", RENDEZVOUS=f"tcp://{master}", WORLD_SIZE=str(world_size), RANK=str(rank)
    )
    import torch
    import torch.distributed as dist

    from . import cosine  # noqa: F401  registers the trig dealer material with the providers
    from .compat import crypten

    torch.set_num_threads(threads)
    crypten.cfg.mpc.provider = provider.upper()
    if rank == world_size:
        if provider != "ttp":
            raise ValueError("only the TTP provider has a dealer process")
        crypten.mpc.provider.TTPServer()  # serves requests until party 0 says terminate
        return None
    crypten.init()
    try:
        result = task.resolve()(**task.kwargs)
        comm = crypten.communicator.get()
        gathered = [None] * world_size
        dist.all_gather_object(gathered, result, group=comm.main_group)
    finally:
        crypten.uninit()
    return gathered if rank == 0 else None


def run_parties(task: Task, world_size: int = 2, provider: str = "ttp", timeout: float = 600.0,
                threads: int = 1, host: str = "127.0.0.1", owner: Task | None = None):
    """Run ``task`` as ``world_size`` parties (+ dealer for TTP) on this machine.

    Each party is a fresh ``python -m secfwt.mpc.parties`` process (no fork of the caller,
    so it works from scripts, notebooks, pytest and asv alike).  Returns the list of
    per-party results (index = rank).  Raises :class:`PartyError` if any process raises,
    dies or the run exceeds ``timeout`` seconds; no process is left behind either way.

    With ``owner``, a separate data-owner process (:mod:`secfwt.mpc.owner`) runs
    ``owner`` and the servers reach it through :class:`secfwt.mpc.owner.OwnerLink`; the
    return value is then ``(per-party results, the owner's output)``.
    """
    from . import owner as owner_mod

    if provider not in PROVIDERS:
        raise ValueError(f"unknown provider {provider!r}; choose one of {', '.join(PROVIDERS)}")
    if world_size < 2:
        raise ValueError("MPC needs at least two computing parties")
    master = f"{host}:{free_port(host)}"
    ranks = list(range(world_size + (1 if provider == "ttp" else 0)))
    env = {**os.environ, owner_mod.TOKEN_ENV: secrets.token_hex(16)}
    with tempfile.TemporaryDirectory(prefix="secfwt-run-") as tmp:
        out_file = Path(tmp) / "result.json"
        procs, logs = {}, {}
        deadline = time.monotonic() + timeout
        try:
            if owner is not None:
                address_file, owner_out = Path(tmp) / "owner.addr", Path(tmp) / "owner.json"
                logs[OWNER] = open(Path(tmp) / "owner.log", "w+b")
                procs[OWNER] = subprocess.Popen(
                    [sys.executable, "-m", "secfwt.mpc.owner", "--world-size", str(world_size), "--address-file",
                     str(address_file), "--out", str(owner_out),
                     "--task", json.dumps({"target": owner.target, "kwargs": owner.kwargs})],
                    stdout=logs[OWNER], stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                    env=env)
                while not address_file.exists():
                    _check(procs, logs, world_size, deadline, timeout)
                    time.sleep(0.05)
                env[owner_mod.ADDRESS_ENV] = address_file.read_text()
            for r in ranks:
                logs[r] = open(Path(tmp) / f"rank{r}.log", "w+b")
                cmd = [sys.executable, "-m", "secfwt.mpc.parties", "--rank", str(r), "--world-size",
                       str(world_size), "--master", master, "--provider", provider, "--threads", str(threads),
                       "--task", json.dumps({"target": task.target, "kwargs": task.kwargs})]
                if r == 0:
                    cmd += ["--out", str(out_file)]
                procs[r] = subprocess.Popen(cmd, stdout=logs[r], stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, start_new_session=True, env=env)
            while not _check(procs, logs, world_size, deadline, timeout):
                time.sleep(0.05)
            parties = json.loads(out_file.read_text())
            return (parties, json.loads(owner_out.read_text())) if owner is not None else parties
        finally:
            for p in procs.values():
                if p.poll() is None:
                    try:
                        os.killpg(p.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            for p in procs.values():
                p.wait(timeout=10)
            for f in logs.values():
                f.close()


#: the data owner's key among the launcher's processes
OWNER = "owner"


def _check(procs: dict, logs: dict, world_size: int, deadline: float, timeout: float) -> bool:
    """True when every process finished cleanly; raises PartyError on a failure or the timeout."""
    codes = {r: p.poll() for r, p in procs.items()}
    failed = [r for r, c in codes.items() if c not in (None, 0)]
    if failed:
        r = min(failed, key=lambda x: _failure_rank_order(codes[x]))
        tail = _tail(logs[r])
        last = tail.splitlines()[-1].removeprefix(f"[rank{r}]:").strip()
        raise PartyError(f"{_who(r, world_size)} failed ({_how(codes[r])}): {last}\n{tail}")
    if all(c == 0 for c in codes.values()):
        return True
    if time.monotonic() > deadline:
        raise PartyError(f"run timed out after {timeout:.0f} s; still running: "
                         + ", ".join(_who(r, world_size) for r, c in codes.items() if c is None))
    return False


def _who(rank, world_size: int) -> str:
    if rank == OWNER:
        return "data owner"
    return "dealer (TTP)" if rank == world_size else f"party {rank}"


def _how(code: int) -> str:
    return f"killed by signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"


def _failure_rank_order(code: int) -> int:
    """Report a party that raised (exit 1, has a traceback) before one killed as a consequence."""
    return 0 if code > 0 else 1


def _tail(log, limit: int = 4000) -> str:
    log.flush()
    log.seek(0)
    text = log.read().decode(errors="replace")
    return text[-limit:].strip() or "(no output)"


def main(argv=None) -> int:
    """Entry of one party process (used by :func:`run_parties` and ``secfwt party``)."""
    ap = argparse.ArgumentParser(prog="python -m secfwt.mpc.parties", description=__doc__)
    ap.add_argument("--rank", type=int, required=True)
    ap.add_argument("--world-size", type=int, required=True)
    ap.add_argument("--master", required=True, help="HOST:PORT of rank 0's rendezvous")
    ap.add_argument("--provider", choices=PROVIDERS, default="ttp")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--task", required=True, help='JSON {"target": "module:function", "kwargs": {...}}')
    ap.add_argument("--out", help="rank 0 writes the gathered per-party results here (JSON)")
    args = ap.parse_args(argv)
    spec = json.loads(args.task)
    result = party_main(args.rank, args.world_size, args.master, args.provider,
                        Task(spec["target"], spec["kwargs"]), threads=args.threads)
    if args.rank == 0 and args.out:
        tmp = Path(args.out + ".part")
        tmp.write_text(json.dumps(result))
        tmp.replace(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
