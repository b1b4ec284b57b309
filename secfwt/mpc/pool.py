"""A warm pool of parties: start the two parties and the dealer once, send them point after point.

Cold runs (:func:`secfwt.mpc.parties.run_parties`) start 2 to 4 interpreters per point, each
importing torch and CrypTen and meeting the others: seconds of start-up around milliseconds of
MPC for small points.  A pool starts them once.  Each point is as independent as a cold run:

* fresh randomness: before each point the parties redo CrypTen's seed exchange (``_setup_prng``)
  and the dealer deals every party a fresh generator seed (``TTPServer._setup_generators``); under
  ``SECFWT_PROTOCOL_SEED`` both are derived exactly as a cold run derives them, so a seeded point
  opens the same masks warm and cold;
* the agreement digest (token, task, parameters, provider, world size, version) is checked per
  point, the dealer computing its own from the job file it reads itself;
* the dealer's persistent fixed-operand masks (``secfwt.mpc.persistent``) are dropped per point;
* the meter is per point (:func:`secfwt.runner.measure` makes one).

Transport: the launcher writes ``job-<n>.json`` into the pool's run folder; the parties poll for it,
run it and rank 0 writes ``result-<n>.json`` (atomically), as a cold run writes its result.  A
point that fails, stalls or times out ends the pool: every process is killed and the error raised
exactly as a cold run raises it; the next point starts a fresh pool.  A point with a data owner
gets a fresh owner process, as in a cold run (its data and masks are the point's own), whose
address the job file carries to the parties.  Points over an emulated link run cold (:func:`use`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

from . import process
from .process import (
    DEFAULT_STALL_S,
    LAUNCHER_ENV,
    LOOPBACK,
    OWNER,
    PROTOCOL_SEED_ENV,
    PROVIDERS,
    RUN_PREFIX,
    STALL_ENV,
    TOKEN_ENV,
    PartyError,
    StallWatch,
    Task,
    _agree,
    _check,
    _gather_json,
    _remove_stale_run_folders,
    _seeded_protocol,
    die_with_launcher,
    exit_failed,
    owner_address,
    owner_command,
    rendezvous,
    run_digests,
)

#: how often a waiting party or launcher looks for the next file
POLL_S = 0.01
STOP = "stop"


def _job(folder: Path, n: int) -> Path:
    return folder / f"job-{n}.json"


def _write(path: Path, value) -> None:
    tmp = path.with_suffix(".part")
    tmp.write_text(json.dumps(value))
    tmp.replace(path)


#: what a pool's processes take from the launcher's environment when they start: a point whose
#: launcher has other values (a protocol seed set or cleared, another import path) gets another pool,
#: so a seeded and an unseeded point never share processes (or a torch generator)
INHERITED_ENV = (PROTOCOL_SEED_ENV, "PYTHONPATH")


def _inherited() -> tuple:
    return tuple(os.environ.get(name) for name in INHERITED_ENV)


class PartyPool:
    """The launcher's end: the processes of one pool and the points sent to it."""

    def __init__(self, world_size: int = 2, provider: str = "ttp", threads: int = 1):
        if provider not in PROVIDERS:
            raise ValueError(f"unknown provider {provider!r}; choose one of {', '.join(PROVIDERS)}")
        self.world_size, self.provider, self.threads = world_size, provider, threads
        self.procs: dict = {}
        self.logs: dict = {}
        self.folder: Path | None = None
        self.env: dict = {}
        self.points = 0
        self.inherited = _inherited()

    def fits(self, world_size: int, provider: str, threads: int) -> bool:
        """The point's processes would start as this pool's did: same shape, same inherited settings."""
        return (world_size, provider, threads, _inherited()) == (self.world_size, self.provider, self.threads,
                                                                  self.inherited)

    def start(self) -> None:
        _remove_stale_run_folders()
        self.folder = Path(tempfile.mkdtemp(prefix=RUN_PREFIX))
        (self.folder / "launcher.pid").write_text(str(os.getpid()))
        self.env = env = {**os.environ, TOKEN_ENV: secrets.token_hex(16), LAUNCHER_ENV: str(os.getpid()),
                          "GLOO_SOCKET_IFNAME": LOOPBACK}
        master = (self.folder / "rendezvous").as_uri()
        for r in range(self.world_size + (1 if self.provider == "ttp" else 0)):
            cmd = [sys.executable, "-m", "secfwt.mpc.pool", "--rank", str(r), "--world-size", str(self.world_size),
                   "--master", master, "--provider", self.provider, "--threads", str(self.threads),
                   "--folder", str(self.folder)]
            self.procs[r], self.logs[r] = process._launch(cmd, env, self.folder / f"rank{r}.log")

    def run(self, task: Task, timeout: float, stall_s: float | None = None, owner: Task | None = None):
        """One point: its per-party results (rank 0's gathered list) and, with ``owner``, the data
        owner's output, as :func:`secfwt.mpc.parties.run_parties` returns them; or PartyError (the
        pool is gone)."""
        if not self.procs:
            self.start()
        self.points += 1
        n = self.points
        job = {"target": task.target, "kwargs": task.kwargs}
        result = self.folder / f"result-{n}.json"
        deadline = time.monotonic() + timeout
        watch = StallWatch(float(os.environ.get(STALL_ENV, DEFAULT_STALL_S)) if stall_s is None else stall_s)
        state: dict = {}
        procs, logs = dict(self.procs), dict(self.logs)
        owner_out = self.folder / f"owner-{n}.json" if owner is not None else None
        try:
            if owner is not None:
                address_file = self.folder / f"owner-{n}.addr"
                procs[OWNER], logs[OWNER] = process._launch(owner_command(owner, self.world_size, address_file, owner_out),
                                                            self.env, self.folder / f"owner-{n}.log")
                job["owner"] = owner_address(address_file, procs, logs, self.world_size, deadline, timeout, watch,
                                             state)
            _write(_job(self.folder, n), job)
            while not result.exists() or (owner_out is not None and not owner_out.exists()):
                if _check(procs, logs, self.world_size, deadline, timeout, watch, state):
                    raise PartyError("the pool's processes ended before the point's result")
                time.sleep(POLL_S)
            gathered = json.loads(result.read_text())
            return gathered if owner is None else (gathered, json.loads(owner_out.read_text()))
        except BaseException:
            self.close(kill=True)
            raise
        finally:  # the owner has written its output, or the point failed: nothing of it is lost
            if OWNER in procs:
                process._reap({OWNER: procs[OWNER]}, {OWNER: logs[OWNER]})

    def close(self, kill: bool = False) -> None:
        """End the pool: a clean stop (the parties leave, party 0 tells the dealer) or a kill."""
        if self.folder is None:
            return
        if not kill:
            (self.folder / STOP).write_text("")
            end = time.monotonic() + 30
            while any(p.poll() is None for p in self.procs.values()) and time.monotonic() < end:
                time.sleep(POLL_S)
        process._reap(self.procs, self.logs)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.procs, self.logs, self.folder, self.points = {}, {}, None, 0


_ACTIVE: PartyPool | None = None


@contextlib.contextmanager
def warm():
    """While active, :func:`secfwt.mpc.parties.run_parties` sends fitting points to one pool
    (started at the first point, restarted after a failed one, closed on exit)."""
    global _ACTIVE
    pools: list[PartyPool] = []
    outer, _ACTIVE = _ACTIVE, _Warm(pools)
    try:
        yield
    finally:
        _ACTIVE = outer
        for pool in pools:
            pool.close()


@contextlib.contextmanager
def cold():
    """Inside a :func:`warm` block, run points in fresh processes again (``--cold``; tests of the
    cold launcher itself)."""
    global _ACTIVE
    outer, _ACTIVE = _ACTIVE, None
    try:
        yield
    finally:
        _ACTIVE = outer


class _Warm:
    """The pools of one :func:`warm` block, one per (world size, provider, threads)."""

    def __init__(self, pools: list):
        self.pools = pools

    def get(self, world_size: int, provider: str, threads: int) -> PartyPool:
        for pool in self.pools:
            if pool.fits(world_size, provider, threads):
                return pool
        pool = PartyPool(world_size, provider, threads)
        self.pools.append(pool)
        return pool


def use(world_size: int, provider: str, threads: int, emulate) -> PartyPool | None:
    """The pool a point runs in, or None (run it cold): no :func:`warm` block, or an emulated link
    (its namespaces are per point)."""
    if _ACTIVE is None or emulate is not None:
        return None
    return _ACTIVE.get(world_size, provider, threads)


# -- the processes of a pool ---------------------------------------------------------------------
def _new_point_dealer(server, n: int) -> object:
    """TTPServer side of a new point (party 0's request ``secfwt_new_point``): the job's digests from
    the job file, a fresh generator seed for every party, the run's persistent masks dropped."""
    import torch

    from .compat import crypten

    comm = crypten.communicator.get()
    world_size = int(os.environ["WORLD_SIZE"])  # the computing parties (the dealer's rank)
    spec = json.loads(_job(Path(os.environ[FOLDER_ENV]), n).read_text())
    digests = run_digests(Task(spec["target"], spec["kwargs"]), world_size, "ttp")
    server.__dict__.pop("_secfwt_fixed_masks", None)
    with _seeded_protocol(world_size):
        server._setup_generators()
    _agree(digests, world_size, world_size + 1, comm.ttp_group)
    return torch.zeros(1, dtype=torch.long)


def _new_point_party(rank: int, world_size: int, provider: str, task: Task, n: int) -> None:
    """A party's side of a new point: fresh PRSS seeds, a fresh dealer seed, the agreement."""
    import torch

    from .compat import crypten

    comm = crypten.communicator.get()
    ttp = provider == "ttp"
    digests = run_digests(task, world_size, provider)
    crypten.mpc.get_default_provider().__dict__.pop("_secfwt_fixed_masks", None)
    with _seeded_protocol(rank):
        crypten._setup_prng()
        if ttp:
            from crypten.mpc.provider.ttp_provider import TTPClient

            if rank == 0:
                comm.send_obj({"function": "secfwt_new_point", "device": "cpu", "args": [n], "kwargs": {}},
                              comm.get_ttp_rank(), comm.ttp_group)
            TTPClient.get()._setup_generators()
    _agree(digests, rank, world_size + (1 if ttp else 0), comm.ttp_group)
    if ttp and rank == 0:  # the dealer's answer to the request, as TTPClient.ttp_request reads it
        size = comm.recv_obj(comm.get_ttp_rank(), comm.ttp_group)
        comm.broadcast(torch.empty(size, dtype=torch.long), comm.get_ttp_rank(), comm.ttp_comm_group)


#: the pool's run folder, in its processes' environment
FOLDER_ENV = "SECFWT_POOL_FOLDER"


def serve(rank: int, world_size: int, master: str, provider: str, threads: int, folder: Path) -> None:
    """Body of one pool process: join once, then run points until the launcher writes ``stop``."""
    os.environ.update(DISTRIBUTED_BACKEND="gloo", RENDEZVOUS=rendezvous(master), WORLD_SIZE=str(world_size),
                      RANK=str(rank))
    os.environ[FOLDER_ENV] = str(folder)
    import torch

    from . import install_protocols
    from .compat import crypten
    from .owner import ADDRESS_ENV

    install_protocols()
    torch.set_num_threads(threads)
    crypten.cfg.mpc.provider = provider.upper()
    if rank == world_size:
        server = crypten.mpc.provider.TTPServer
        server.secfwt_new_point = _new_point_dealer
        with _seeded_protocol(rank):
            server()  # serves requests, new points included, until party 0 says terminate
        return
    with _seeded_protocol(rank):
        crypten.init()
    comm = crypten.communicator.get()
    n = 0
    while True:
        n += 1
        job = _job(folder, n)
        while not job.exists() and not (folder / STOP).exists():
            time.sleep(POLL_S)
        if not job.exists():
            break
        spec = json.loads(job.read_text())
        task = Task(spec["target"], spec["kwargs"])
        if "owner" in spec:  # this point's data owner (secfwt.mpc.owner.OwnerLink reads it)
            os.environ[ADDRESS_ENV] = spec["owner"]
        else:
            os.environ.pop(ADDRESS_ENV, None)
        _new_point_party(rank, world_size, provider, task, n)
        gathered = _gather_json(task.resolve()(**task.kwargs), world_size, comm.main_group)
        if rank == 0:
            _write(folder / f"result-{n}.json", gathered)
    crypten.uninit()  # party 0 tells the dealer the pool is done


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m secfwt.mpc.pool")
    ap.add_argument("--rank", type=int, required=True)
    ap.add_argument("--world-size", type=int, required=True)
    ap.add_argument("--master", required=True)
    ap.add_argument("--provider", choices=PROVIDERS, default="ttp")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--folder", required=True)
    args = ap.parse_args(argv)
    die_with_launcher()
    try:
        serve(args.rank, args.world_size, args.master, args.provider, args.threads, Path(args.folder))
    except Exception:
        exit_failed()
    return 0


if __name__ == "__main__":
    sys.exit(main())

