"""Exact cost accounting for CrypTen runs: rounds, bytes and time per named scope.

The meter wraps every collective of CrypTen's communicator *instance* and reads
CrypTen's own counters (``comm_rounds``, ``comm_bytes``) before and after each
call, so its totals agree exactly with CrypTen's by construction.  Each call is
attributed to

* a channel: ``online`` (between computing parties) or ``offline`` (between
  party 0 and the TTP dealer, which only exists under the TTP provider), and
* the innermost active scope, e.g. ``layer0.attn.softmax``.

Scope totals are inclusive (a scope includes its children).  ``compute_s`` of a
scope is its wall time minus the time spent inside communication calls.

Counting conventions (CrypTen's, kept unchanged): every collective call is one
round; a party's byte count adds what it sends and what it receives.
"""

from __future__ import annotations

import contextlib
import inspect
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field

from .compat import crypten

ONLINE = "online"
OFFLINE = "offline"

#: Communicator methods that CrypTen logs (see crypten/communicator/communicator.py).
COLLECTIVES = (
    "send", "recv", "isend", "irecv", "scatter", "reduce", "all_reduce", "gather",
    "all_gather", "broadcast", "barrier", "send_obj", "recv_obj", "broadcast_obj",
)


@dataclass
class Tally:
    """Costs accumulated in one scope (exclusive of its children until summarised)."""

    rounds: int = 0
    bytes: float = 0
    offline_rounds: int = 0
    offline_bytes: float = 0
    comm_s: float = 0.0
    wall_s: float = 0.0
    calls: int = 0

    def add(self, other: "Tally", wall: bool = True) -> None:
        self.rounds += other.rounds
        self.bytes += other.bytes
        self.offline_rounds += other.offline_rounds
        self.offline_bytes += other.offline_bytes
        self.comm_s += other.comm_s
        self.calls += other.calls
        if wall:
            self.wall_s += other.wall_s

    def as_dict(self) -> dict:
        d = asdict(self)
        d["compute_s"] = max(self.wall_s - self.comm_s, 0.0)
        return d


@dataclass
class Meter:
    """Per-party cost meter.  Use as a context manager around the measured work."""

    own: dict = field(default_factory=lambda: defaultdict(Tally))  # path -> exclusive tally
    wall: dict = field(default_factory=lambda: defaultdict(float))  # path -> inclusive wall
    ops: dict = field(default_factory=lambda: defaultdict(Tally))  # (path, op, channel) -> tally
    _stack: list = field(default_factory=list)
    _installed: list = field(default_factory=list)
    _t0: float = 0.0

    # -- installation on CrypTen's communicator -------------------------------------------
    def __enter__(self) -> "Meter":
        global _ACTIVE
        crypten.cfg.communicator.verbose = True
        comm = crypten.communicator.get()
        for name in COLLECTIVES:
            bound = getattr(comm, name)
            setattr(comm, name, self._wrap(comm, name, bound))
            self._installed.append((comm, name))
        _ACTIVE = self
        self._t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        global _ACTIVE
        self.wall[""] += time.perf_counter() - self._t0
        for comm, name in self._installed:
            delattr(comm, name)  # instance attribute shadowed the class method
        self._installed.clear()
        _ACTIVE = None

    def _wrap(self, comm, name, bound):
        signature = inspect.signature(bound)

        def metered(*args, **kwargs):
            group = signature.bind(*args, **kwargs).arguments.get("group")
            offline = bool(getattr(comm, "ttp_initialized", False)) and group is not None and (
                group is getattr(comm, "ttp_group", None) or group is getattr(comm, "ttp_comm_group", None)
            )
            r0, b0 = comm.comm_rounds, comm.comm_bytes
            t0 = time.perf_counter()
            result = bound(*args, **kwargs)
            dt = time.perf_counter() - t0
            dr, db = comm.comm_rounds - r0, comm.comm_bytes - b0
            self._charge(name, OFFLINE if offline else ONLINE, dr, db, dt)
            return result

        metered.__name__ = name
        return metered

    def _charge(self, op: str, channel: str, rounds: int, nbytes: float, seconds: float) -> None:
        path = self.path
        delta = Tally(calls=1, comm_s=seconds)
        if channel == ONLINE:
            delta.rounds, delta.bytes = rounds, nbytes
        else:
            delta.offline_rounds, delta.offline_bytes = rounds, nbytes
        self.own[path].add(delta)
        self.ops[(path, op, channel)].add(delta)

    # -- scopes ---------------------------------------------------------------------------
    @property
    def path(self) -> str:
        return ".".join(self._stack)

    @contextlib.contextmanager
    def scope(self, name: str):
        self._stack.append(name)
        path = self.path
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.wall[path] += time.perf_counter() - t0
            self._stack.pop()

    # -- results --------------------------------------------------------------------------
    def summary(self) -> dict:
        """Inclusive totals per scope path ('' is the whole run), as plain dicts."""
        paths = set(self.wall) | set(self.own) | {""}
        out = {}
        for p in sorted(paths):
            tally = Tally()
            for q, t in self.own.items():
                if p == "" or q == p or q.startswith(p + "."):
                    tally.add(t, wall=False)
            tally.wall_s = self.wall.get(p, 0.0)
            out[p] = tally.as_dict()
        return out

    def trace(self) -> list:
        """Per (scope, collective, channel) counts: which call moved the bytes."""
        return [
            {"scope": p, "op": op, "channel": ch, "calls": t.calls, "rounds": t.rounds + t.offline_rounds,
             "bytes": t.bytes + t.offline_bytes, "comm_s": t.comm_s}
            for (p, op, ch), t in sorted(self.ops.items())
        ]


_ACTIVE: Meter | None = None


@contextlib.contextmanager
def scope(name: str):
    """Name a region of work; a no-op when no meter is active (plaintext runs, tests)."""
    if _ACTIVE is None:
        yield
    else:
        with _ACTIVE.scope(name):
            yield

