"""What every process of a run shares, and each process's own side: the task, the errors, the
environment contract between launcher and children (token, launcher pid, protocol seed, join
timeout), the party's entry (:func:`party_main`, :func:`main`), and the launcher's supervision of
its children (:func:`_launch`, :func:`_check`, :class:`StallWatch`, :func:`_reap`).  Only the
standard library at load: the data owner, the warm pool and the link emulation import it, and the
launcher (:func:`secfwt.mpc.parties.run_parties`) imports them; nothing here imports back.

How runs work (the launcher and these processes together):

Each party is a process that joins a ``torch.distributed`` gloo group over TCP
(``tcp://HOST:PORT``); under the TTP provider the dealer is one more process with
rank N, running CrypTen's ``TTPServer``.  The launcher picks a free port, starts
every process, and watches them: a party that raises or dies fails the whole run
within about a second with that party's traceback, and every process is killed
and reaped before the error is raised.  Every run has a timeout.

No orphans: SIGTERM and SIGHUP of the launcher (a CI cancel, ``timeout``, a closed terminal)
raise ``SystemExit`` inside it, so the same clean-up runs; each child asks the kernel to
SIGKILL it when the launcher dies (``PR_SET_PDEATHSIG``), which covers SIGKILL of the launcher;
the run folder of a launcher killed that way is removed by the next run.

Rendezvous: local runs meet through a file in the run folder (``file://``: no listening port)
and gloo binds the loopback interface only.  Multi-host runs (``secfwt party``) meet at
``HOST:PORT``.  Before any result is exchanged, the parties and the dealer compare a SHA-256 digest
of the run (workload, parameters, provider, world size, secfwt version, and the shared token in
``SECFWT_RUN_TOKEN``): a party or dealer started with other parameters or without the token stops
the run with a clear error.  Results are gathered as JSON, not pickle.  Not protected: CrypTen's own
dealer messages are pickled, and a multi-host rendezvous port is reachable by anyone who can
reach the host; run multi-host parties on a trusted network (see README).

The same :func:`party_main` runs one party per host for multi-machine runs:
``secfwt party --rank R --world-size N --master HOST:PORT WORKLOAD ...``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import re
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


class RunMismatch(PartyError):
    """The parties of a run disagree on what to compute (or on the token): a usage error."""


@dataclass(frozen=True)
class Task:
    """What each party runs: a module-level function (given as itself, or as ``module:function``),
    called with ``kwargs``; the processes find it by that name."""

    target: str
    kwargs: dict

    def __post_init__(self):
        if callable(self.target):  # the function itself: its importable name travels
            object.__setattr__(self, "target", f"{self.target.__module__}:{self.target.__qualname__}")

    def resolve(self):
        module, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module), name)


#: the launcher's pid, in every child's environment: a child exits at once if it has another parent
LAUNCHER_ENV = "SECFWT_LAUNCHER_PID"
#: the run's shared secret: every party, the dealer and the data owner must present it (the local
#: launcher draws a random one per run; party mode needs it on every host)
TOKEN_ENV = "SECFWT_RUN_TOKEN"
RUN_PREFIX = "secfwt-run-"
_PR_SET_PDEATHSIG = 1


def die_with_launcher() -> None:
    """In a child of :func:`run_parties` or of a pool (started from the launcher's main thread): be
    SIGKILLed when the launcher dies (Linux), and exit now if it is already gone.  A no-op for
    processes started by hand (``secfwt party``)."""
    launcher = os.environ.get(LAUNCHER_ENV)
    if not launcher:
        return
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the launcher's own clean-up still applies
        pass
    if os.getppid() != int(launcher):
        os._exit(1)


class TerminateOnSignals:
    """While active (main thread only), SIGTERM and SIGHUP raise SystemExit(128 + signal) so that
    ``finally`` blocks kill the parties, and every outer one runs too (the CLI releases its --out
    lock and exits 128 + n); the previous handlers are restored afterwards.  A caller that catches
    SystemExit (a test runner) keeps running: its own children are gone either way."""

    SIGNALS = (signal.SIGTERM, signal.SIGHUP)

    def __enter__(self):
        import threading

        self.saved = {}
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self.saved[sig] = signal.signal(sig, self._raise)
        return self

    @staticmethod
    def _raise(signum, frame):
        raise SystemExit(128 + signum)

    def __exit__(self, *exc):
        for sig, handler in self.saved.items():
            signal.signal(sig, handler)
        return False


def _remove_stale_run_folders() -> None:
    """Run folders whose launcher is gone (it was SIGKILLed: nothing could clean up)."""
    import shutil

    for folder in Path(tempfile.gettempdir()).glob(RUN_PREFIX + "*"):
        try:
            pid = int((folder / "launcher.pid").read_text())
        except (OSError, ValueError):
            continue
        if not _alive(pid):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def run_digests(task: Task, world_size: int, provider: str) -> dict[str, bytes]:
    """What every party must agree on before it computes, field by field, each keyed with the run's
    token (HMAC-SHA-256), so that a party without the token learns nothing from them."""
    import hashlib
    import hmac

    from .. import __version__
    token = os.environ.get(TOKEN_ENV, "").encode()
    kwargs = dict(task.kwargs)
    params = kwargs.pop("params", {}) if isinstance(kwargs.get("params"), dict) else {}
    fields = {"SECFWT_RUN_TOKEN": "", "task": [task.target, kwargs], "provider": provider,
              "world size": world_size, "secfwt version": __version__}
    fields.update({f"parameter {k}": v for k, v in sorted(params.items())})
    return {name: hmac.new(token, json.dumps(value, sort_keys=True, default=str).encode(), hashlib.sha256).digest()
            for name, value in fields.items()}


def _gather_json(value, world_size: int, group) -> list:
    """All-gather JSON-serialisable values as bytes tensors (no pickle of peer data)."""
    import torch
    import torch.distributed as dist

    data = torch.tensor(list(json.dumps(value).encode()), dtype=torch.uint8)
    sizes = [torch.zeros(1, dtype=torch.long) for _ in range(world_size)]
    dist.all_gather(sizes, torch.tensor([data.numel()]), group=group)
    longest = int(max(t.item() for t in sizes))
    padded = torch.zeros(longest, dtype=torch.uint8)
    padded[:data.numel()] = data
    chunks = [torch.zeros(longest, dtype=torch.uint8) for _ in range(world_size)]
    dist.all_gather(chunks, padded, group=group)
    return [json.loads(bytes(c[:int(n.item())].tolist()).decode()) for c, n in zip(chunks, sizes)]


def _leave_groups() -> None:
    """Leave torch.distributed locally, without CrypTen's "terminate" (a refused run never
    started): exiting with gloo's groups alive aborts the interpreter now and then (SIGABRT,
    "terminate called without an active exception") instead of exiting with the run's code."""
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()  # every group, the default one last


def _agree(digests: dict[str, bytes], rank: int, world_size: int, group) -> None:
    """Every party computes the same run with the same token, or the run stops here, naming what
    differs (the token first: without it, nothing else is compared)."""
    import torch
    import torch.distributed as dist

    names = list(digests)
    count = torch.tensor([len(names)])
    counts = [torch.zeros_like(count) for _ in range(world_size)]
    dist.all_gather(counts, count, group=group)
    n = int(min(c.item() for c in counts))
    mine = torch.tensor([list(digests[k]) for k in names[:n]], dtype=torch.uint8)
    seen = [torch.zeros_like(mine) for _ in range(world_size)]
    dist.all_gather(seen, mine, group=group)
    differ = {k for other in seen for i, k in enumerate(names[:n]) if not torch.equal(other[i], mine[i])}
    if "SECFWT_RUN_TOKEN" in differ:
        differ = {"SECFWT_RUN_TOKEN"}
    elif not differ and any(c.item() != len(names) for c in counts):
        differ = {"the parameter list"}
    if differ:
        _leave_groups()
        raise RunMismatch(f"party {rank}: the parties disagree on {', '.join(sorted(differ))}; refusing to compute")


#: a public seed for the protocol's own randomness (masks, dealer material): reproducible errors,
#: NOT secure (anyone who knows the seed knows every mask); unset, CrypTen draws from os.urandom
PROTOCOL_SEED_ENV = "SECFWT_PROTOCOL_SEED"


def protocol_seed(stream: int) -> int | None:
    """torch's seed for one process's protocol randomness (``stream``: a party's rank, or the data
    owner's own number) under ``SECFWT_PROTOCOL_SEED``; None when it is unset (secret randomness)."""
    seed = os.environ.get(PROTOCOL_SEED_ENV)
    return None if seed is None else int(seed) * 1009 + stream


@contextlib.contextmanager
def _seeded_protocol(rank: int):
    """With ``SECFWT_PROTOCOL_SEED`` set: torch's generator and CrypTen's seed draws (os.urandom in
    ``crypten.init``) derive from it and the rank, so a run repeats bit for bit."""
    seed = os.environ.get(PROTOCOL_SEED_ENV)
    if seed is None:
        yield
        return
    import hashlib

    import torch

    torch.manual_seed(protocol_seed(rank))
    counter = iter(range(1 << 62))
    real = os.urandom

    def derived(n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(f"{seed}/{rank}/{next(counter)}".encode()).digest()
        return out[:n]

    os.urandom = derived
    try:
        yield
    finally:
        os.urandom = real


def rendezvous(master: str) -> str:
    """``file:///path`` stays as it is (local runs); ``HOST:PORT`` becomes ``tcp://HOST:PORT``."""
    return master if master.startswith("file://") else f"tcp://{master}"


#: how long a party waits for every other party (and the dealer) to join the run
JOIN_TIMEOUT_ENV = "SECFWT_JOIN_TIMEOUT_S"
DEFAULT_JOIN_TIMEOUT_S = 60.0


def join_timeout_s() -> float:
    """Seconds a party (or a server reaching the data owner) waits for the others to join."""
    return float(os.environ.get(JOIN_TIMEOUT_ENV, DEFAULT_JOIN_TIMEOUT_S))


@contextlib.contextmanager
def _store_where_master_says(rank: int, master: str):
    """Rank 0 of a TCP rendezvous (``HOST:PORT``, party mode) serves torch's store on HOST only: left
    to itself, torch's TCPStore listens on every interface.  The socket is bound here and handed to
    the store (``master_listen_fd``); the other ranks connect as usual.  File rendezvous (local runs)
    have no store socket at all."""
    if rank != 0 or master.startswith("file://"):
        yield
        return
    import datetime

    import torch.distributed as dist

    host, _, port = master.rpartition(":")
    family = socket.AF_INET6 if ":" in host.strip("[]") else socket.AF_INET
    listener = socket.socket(family, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((host.strip("[]"), int(port)))
    listener.listen(128)
    real = dist.init_process_group

    def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, **kwargs):
        if init_method is None or not str(init_method).startswith("tcp://"):
            return real(backend, init_method=init_method, timeout=timeout, world_size=world_size, rank=rank, **kwargs)
        wait = timeout or datetime.timedelta(minutes=30)
        store = dist.TCPStore(host.strip("[]"), int(port), world_size, True, timeout=wait, wait_for_workers=False,
                              master_listen_fd=listener.fileno())
        # torch prefixes the store it makes from an init_method with "default_pg" (and one it is given with
        # nothing): the other ranks, which rendezvous by init_method, use that prefix
        return real(backend, store=dist.PrefixStore("default_pg", store), timeout=timeout, world_size=world_size,
                    rank=rank, **kwargs)

    dist.init_process_group = init_process_group
    try:
        yield
    finally:
        dist.init_process_group = real
        listener.close()


@contextlib.contextmanager
def _join_deadline(rank: int, world_size: int, master: str, seconds: float):
    """Until torch.distributed's process group is up (every rank joined: gloo connects them all),
    a watchdog ends this process after ``seconds`` with one clear line, instead of torch's 30-minute
    default.  Only the join is bounded: a long computation later (a party or the dealer busy for
    minutes between rounds) is not cut short.  ``seconds`` infinite: no watchdog (the local launcher's
    parties: the launcher watches every process of the run, so a loaded machine that takes minutes
    to bring them up is not a failure)."""
    import threading

    import torch.distributed as dist

    if seconds == float("inf"):
        yield
        return

    def give_up():
        print(f"secfwt: error: {who(rank, world_size)} waited {seconds:.0f} s at {master} and not every party "
              f"joined (world size {world_size}, plus the dealer under TTP): start every party with the same "
              f"--master and --world-size, or raise {JOIN_TIMEOUT_ENV}", file=sys.stderr, flush=True)
        os._exit(1)

    timer = threading.Timer(seconds, give_up)
    timer.daemon = True
    real = dist.init_process_group

    def init_process_group(*args, **kwargs):
        out = real(*args, **kwargs)
        timer.cancel()  # everyone is here
        return out

    dist.init_process_group = init_process_group
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        dist.init_process_group = real


def party_main(rank: int, world_size: int, master: str, provider: str, task: Task, threads: int = 1,
               on_result=None, join_timeout: float | None = None):
    """Body of one process: rank < world_size is a computing party, rank == world_size the dealer.

    Returns, on rank 0, the list of every computing party's result (gathered after
    the measured work, outside the meter); on other ranks ``None``.  ``on_result`` (rank 0)
    receives that list as soon as it is complete, before the teardown, so that a failure in
    the teardown does not lose a finished measurement.
    """
    if provider not in PROVIDERS:
        raise ValueError(f"unknown provider {provider!r}; choose one of {', '.join(PROVIDERS)}")
    if not 0 <= rank <= world_size:
        raise ValueError(f"rank {rank} is outside 0..{world_size} (world size {world_size}; rank "
                         f"{world_size} is the dealer)")
    os.environ.update(
        DISTRIBUTED_BACKEND="gloo", RENDEZVOUS=rendezvous(master), WORLD_SIZE=str(world_size), RANK=str(rank)
    )
    import torch

    from . import install_protocols
    from .compat import crypten

    install_protocols()  # the suite's dealer material, in the parties and in the dealer

    torch.set_num_threads(threads)
    crypten.cfg.mpc.provider = provider.upper()
    if join_timeout is None:
        join_timeout = join_timeout_s()
    joining = _join_deadline(rank, world_size, master, join_timeout)
    storing = _store_where_master_says(rank, master)
    digests = run_digests(task, world_size, provider)
    everyone = world_size + (1 if provider == "ttp" else 0)  # the dealer agrees too: it deals every mask
    if rank == world_size:
        if provider != "ttp":
            raise ValueError("only the TTP provider has a dealer process")
        server = crypten.mpc.provider.TTPServer
        deal_seeds = server._setup_generators
        told = []  # party 0's "terminate": the only clean end of CrypTen's serving loop

        def seeds_then_agree(self):  # CrypTen's set-up first (the parties' crypten.init() waits for it)
            deal_seeds(self)
            comm = crypten.communicator.get()
            _agree(digests, rank, everyone, comm.ttp_group)
            receive = comm.recv_obj

            def recv_obj(*args, **kwargs):
                message = receive(*args, **kwargs)
                if isinstance(message, str) and message == "terminate":
                    told.append(message)
                return message

            comm.recv_obj = recv_obj

        server._setup_generators = seeds_then_agree
        try:
            with _seeded_protocol(rank), storing, joining:
                server()  # serves requests until party 0 says terminate (or a peer goes away)
        finally:
            server._setup_generators = deal_seeds
        if not told:  # CrypTen's loop also returns, silently, when a connection breaks
            raise PartyError(f"dealer (TTP): {PARTIES_WENT_AWAY}")
        return None
    with _seeded_protocol(rank), storing, joining:
        crypten.init()
    comm = crypten.communicator.get()
    _agree(digests, rank, everyone, comm.ttp_group)  # a refused run's dealer stops by itself
    result = task.resolve()(**task.kwargs)  # a failure ends the process without "terminate": the
    gathered = _gather_json(result, world_size, comm.main_group)  # dealer then reports the run failed
    if rank == 0 and on_result is not None:
        on_result(gathered)
    crypten.uninit()  # party 0 tells the dealer the run is over
    return gathered if rank == 0 else None


def owner_command(owner: Task, world_size: int, address_file: Path, out: Path, host: str | None = None) -> list:
    """The data owner's process of one run (cold or a pool's point): it writes its address, then its output."""
    cmd = [sys.executable, "-m", "secfwt.mpc.owner", "--world-size", str(world_size), "--address-file",
           str(address_file), "--out", str(out), "--task", json.dumps({"target": owner.target, "kwargs": owner.kwargs})]
    return cmd + (["--host", host] if host is not None else [])


def owner_address(address_file: Path, procs: dict, logs: dict, world_size: int, deadline: float, timeout: float,
                  watch: StallWatch, state: dict) -> str:
    """HOST:PORT of a data owner just started (once it listens), watching the run's processes meanwhile."""
    while not address_file.exists():
        if _check(procs, logs, world_size, deadline, timeout, watch, state):
            raise PartyError("the run's processes ended before the data owner listened")
        time.sleep(0.01)
    return address_file.read_text()


def _launch(cmd: list[str], env: dict, log: Path):
    """Start one process of a run (a party, the dealer, a data owner; cold or of a pool) in a session
    of its own, its output in ``log``: (the process, the open log)."""
    out = open(log, "w+b")
    return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, env=env), out


def _reap(procs: dict, logs: dict) -> None:
    """Kill the process groups of a run's processes that still run, wait for every one, close the logs."""
    for p in procs.values():
        if p.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
    for p in procs.values():
        p.wait(timeout=10)
    for f in logs.values():
        f.close()


#: the loopback interface's name (Linux)
LOOPBACK = "lo"

#: the data owner's key among the launcher's processes
OWNER = "owner"


#: how long a failed run waits for a live rank 0 to finish writing a complete result
TEARDOWN_GRACE_S = 1.0

STALL_ENV = "SECFWT_STALL_S"
DEFAULT_STALL_S = 60.0


class StallWatch:
    """Progress of a run, read from the kernel: the CPU time of its processes (``/proc/PID/stat``).
    Computing parties use a whole core; parties waiting on a peer sleep (their background threads
    use well under 5% of a core).  If all of them together used less than ``IDLE_SHARE`` of one
    core over the last ``limit`` seconds, nothing is making progress any more.  Over an emulated
    link the parties mostly wait on the link, so ``traffic`` (bytes the link relay has moved, or None)
    counts as progress too."""

    IDLE_SHARE = 0.05

    def __init__(self, limit: float, traffic=None):
        self.limit = limit
        self.traffic = traffic
        self.samples: list[tuple[float, int, int]] = []  # (monotonic time, total CPU ticks, link bytes)
        self.ticks: dict = {}  # process key -> its last CPU ticks (an exited process keeps its last)
        self.hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self.supported = Path("/proc/self/stat").exists()  # Linux; elsewhere only the timeout applies

    def check(self, procs: dict, world_size: int) -> None:
        """Raise :class:`PartyError` when the processes still alive (an exited one counts with the
        CPU time it had: it makes no progress) used almost no CPU over the last ``limit`` seconds."""
        if not self.supported:
            return
        now = time.monotonic()
        states = {}
        for r, p in procs.items():
            if p.poll() is not None:
                continue  # exited: its last ticks stay in the total
            try:
                fields = Path(f"/proc/{p.pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:  # exited between poll() and the read
                continue
            states[r] = fields[0]
            self.ticks[r] = int(fields[11]) + int(fields[12])  # utime + stime
        total = sum(self.ticks.values())
        moved = self.traffic() if self.traffic is not None else 0
        self.samples.append((now, total, moved))
        old = [sample for sample in self.samples if sample[0] <= now - self.limit]
        if not old:
            return
        self.samples = self.samples[len(old) - 1:]  # keep the newest sample older than the window
        t0, ticks0, moved0 = old[-1]
        if (total - ticks0) / self.hz < self.IDLE_SHARE * (now - t0) and moved == moved0:
            stopped = [who(r, world_size) for r, st in states.items() if st in ("T", "t")]
            cause = f"{', '.join(stopped)} stopped (SIGSTOP or a debugger)" if stopped else \
                "every process is waiting (a deadlock, or a peer that never answers)"
            raise PartyError(f"run stalled: its processes used almost no CPU for {self.limit:.0f} s; {cause}")


#: when every failure so far only says that a peer went away (or was killed), how long the launcher
#: waits for the process whose own error caused it (a traceback) before it reports
ROOT_CAUSE_GRACE_S = 5.0


def _check(procs: dict, logs: dict, world_size: int, deadline: float, timeout: float,
           watch: StallWatch | None = None, state: dict | None = None) -> bool:
    """True when every process finished cleanly; raises PartyError on a failure, a stall or the
    timeout.  The failure reported is the root cause: a process's own error before a peer's "went
    away"; ``state`` (one dict per run) holds when the first failure was seen, so that processes
    still running get ``ROOT_CAUSE_GRACE_S`` to fail with their own error."""
    codes = {r: p.poll() for r, p in procs.items()}
    failed = [r for r, c in codes.items() if c not in (None, 0)]
    if failed:
        order = {x: _failure_rank_order(codes[x], _tail(logs[x])) for x in failed}
        r = min(failed, key=order.get)
        if order[r] >= CONSEQUENCE and state is not None and any(c is None for c in codes.values()):
            first = state.setdefault("first_failure", time.monotonic())
            if time.monotonic() - first < ROOT_CAUSE_GRACE_S:
                return False  # a process still running may be the one that caused it
        tail = _tail(logs[r])
        last = tail.splitlines()[-1].removeprefix(f"[rank{r}]:").strip()
        raise PartyError(f"{who(r, world_size)} failed ({_how(codes[r])}): {last}\n{tail}")
    if all(c == 0 for c in codes.values()):
        return True
    if watch is not None:
        watch.check(procs, world_size)
    if time.monotonic() > deadline:
        raise PartyError(f"run timed out after {timeout:.0f} s; still running: "
                         + ", ".join(who(r, world_size) for r, c in codes.items() if c is None))
    return False


def who(rank, world_size: int) -> str:
    """How a process of a run is named in messages: party N, the dealer, the data owner."""
    if rank == OWNER:
        return "data owner"
    return "dealer (TTP)" if rank == world_size else f"party {rank}"


def _how(code: int) -> str:
    return f"killed by signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"


#: the dealer's error when its serving loop ended without party 0's "terminate"
PARTIES_WENT_AWAY = "the parties went away before the run ended"
#: the error a secfwt socket (the data owner's link) raises when its peer went away, worded as gloo's
PEER_CLOSED = "Connection closed by peer"
#: what a party's error says when it failed only because a peer went away first (with the address)
_LOST_CONNECTION = re.compile(r"(Connection (?:closed|reset) by peer(?: \[[^\]]*\]:\d+)?|Broken pipe)")


def peer_gone(text: str) -> str | None:
    """What an error (or a log's last line) says went away, when all it says is that a peer went away
    (the peer's own failure is the cause); None for any other error."""
    lost = _LOST_CONNECTION.search(text)
    if lost:
        return lost.group(1)
    return text.strip().splitlines()[0] if PARTIES_WENT_AWAY in text else None


#: failures that are consequences of another process's failure rank 2 and above: only these make the
#: launcher wait ``ROOT_CAUSE_GRACE_S`` for a root cause
CONSEQUENCE = 2


def _failure_rank_order(code: int, tail: str = "") -> int:
    """Root causes first: a process that raised (its own traceback), then one killed by a signal from
    outside or a crash (SIGKILL, SIGTERM, SIGSEGV...); then the consequences: one that failed because
    its peer had gone (a closed connection), and last one that gloo aborted (SIGABRT) for the same
    reason."""
    if code < 0:
        return CONSEQUENCE + 1 if -code == signal.SIGABRT else 1
    last = tail.strip().splitlines()[-1] if tail.strip() else ""
    return CONSEQUENCE if peer_gone(last) else 0


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
    die_with_launcher()
    spec = json.loads(args.task)

    def write(result):  # atomically: the launcher reads only a complete file
        tmp = Path(args.out + ".part")
        tmp.write_text(json.dumps(result))
        tmp.replace(args.out)

    # started by run_parties: its exit check, stall watch and run timeout bound the join (no fixed deadline)
    try:
        party_main(args.rank, args.world_size, args.master, args.provider, Task(spec["target"], spec["kwargs"]),
                   threads=args.threads, on_result=write if args.rank == 0 and args.out else None,
                   join_timeout=float("inf"))
    except Exception:
        exit_failed()
    return 0


def exit_failed() -> None:
    """End a failed party at once with status 1, its traceback on stderr.  Not through the
    interpreter's teardown: while it ran, the peers saw this party go and closed their connections,
    and gloo's threads, still up, could abort the process on the reset (SIGABRT, which the launcher
    reads as a consequence, not the root cause)."""
    import traceback

    traceback.print_exc()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(1)
