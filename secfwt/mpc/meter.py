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

Per direction (for a full-duplex link): ``duplex_bytes`` adds, call by call, the bytes on
this party's busier direction.  A symmetric collective (``all_reduce``, ``all_gather``: how
CrypTen opens shares) sends and receives the same amount, so its busier direction carries
half of what CrypTen logs; every other collective (``reduce``, ``broadcast``, ``send``, ...)
moves data one way, all of it on one direction.  The busier party's sum is what a
full-duplex link must carry in sequence; ``bytes`` (both directions) is what a half-duplex
link carries.

Reveal audit (``Meter(audit=True)``): every online opening (``all_reduce`` / ``reduce``:
how CrypTen opens shares) is recorded with its scope, shape, receiver, the protocol that
made it (read off the call stack: Beaver, binary AND, bit conversion, the one-round trig
protocol, the table lookup, or a plain ``reveal``) and a verdict from the opened ring values themselves:
a masked opening (x - a, x ^ a, m x + T) is uniform over the 64-bit ring, a plaintext
fixed-point value is small.  An opening whose values are mostly below ``2**44`` in
magnitude (probability 2^-19 per element for a uniform value) is ``plaintext``.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, field

from .compat import crypten
from .ring import small_fraction

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
    duplex_bytes: float = 0  # online bytes on this party's busier direction, call by call
    comm_s: float = 0.0
    offline_s: float = 0.0  # of comm_s, the time spent waiting on the dealer (TTP)
    wall_s: float = 0.0
    calls: int = 0

    def add(self, other: "Tally", wall: bool = True) -> None:
        self.rounds += other.rounds
        self.bytes += other.bytes
        self.offline_rounds += other.offline_rounds
        self.offline_bytes += other.offline_bytes
        self.duplex_bytes += other.duplex_bytes
        self.comm_s += other.comm_s
        self.offline_s += other.offline_s
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

    audit: bool = False  # record every online opening (see the module docstring)
    openings: list = field(default_factory=list)
    own: dict = field(default_factory=lambda: defaultdict(Tally))  # path -> exclusive tally
    wall: dict = field(default_factory=lambda: defaultdict(float))  # path -> inclusive wall
    _stack: list = field(default_factory=list)
    _installed: list = field(default_factory=list)
    _t0: float = 0.0
    #: this party's rank, and CrypTen's own counters over the metered work (rounds, bytes: the
    #: cross-check of the meter's online + offline totals), set on exit
    rank: int | None = None
    crypten_counters: dict = field(default_factory=dict)
    _counters0: dict = field(default_factory=dict)

    # -- installation on CrypTen's communicator -------------------------------------------
    def __enter__(self) -> "Meter":
        global _ACTIVE
        crypten.cfg.communicator.verbose = True
        comm = crypten.communicator.get()
        self.rank, self._counters0 = comm.get_rank(), comm.get_communication_stats()
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
        after = crypten.communicator.get().get_communication_stats()
        self.crypten_counters = {k: after[k] - self._counters0[k] for k in ("rounds", "bytes")}
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
            if self.audit and not offline and name in OPENINGS:
                self._audit(comm, name, signature.bind(*args, **kwargs).arguments, result)
            return result

        metered.__name__ = name
        return metered

    def _charge(self, op: str, channel: str, rounds: int, nbytes: float, seconds: float) -> None:
        path = self.path
        delta = Tally(calls=1, comm_s=seconds)
        if channel == ONLINE:
            delta.rounds, delta.bytes = rounds, nbytes
            delta.duplex_bytes = nbytes / 2 if op in SYMMETRIC else nbytes
        else:
            delta.offline_rounds, delta.offline_bytes, delta.offline_s = rounds, nbytes, seconds
        self.own[path].add(delta)

    def _audit(self, comm, name: str, arguments: dict, result) -> None:
        dst = arguments.get("dst") if name == "reduce" else None
        sent = arguments.get("input")
        sent = sent if isinstance(sent, (list, tuple)) else [sent]  # this party's shares: the shapes
        opened = result if isinstance(result, (list, tuple)) else [result]
        protocol = _protocol()
        if protocol in UNIFORM_BY_PROTOCOL:  # single masked bits are small by nature
            verdict = "masked bit (protocol)"
        elif dst is not None and dst != comm.get_rank():
            verdict = "not received"  # only the receiver holds the opened values
        else:
            verdict = "plaintext" if max(small_fraction(t) for t in opened) > 0.5 else "masked"
        self.openings.append({"scope": self.path, "op": name, "protocol": protocol,
                              "receiver": "all" if dst is None else f"party {dst}",
                              "shapes": [list(t.shape) for t in sent],
                              "elements": sum(int(t.numel()) for t in sent), "verdict": verdict})

    def audit_summary(self) -> list:
        """Openings aggregated by (scope, protocol, receiver, verdict), with counts and elements."""
        out: dict = {}
        for o in self.openings:
            key = (o["scope"], o["protocol"], o["receiver"], o["verdict"])
            row = out.setdefault(key, {"scope": o["scope"], "protocol": o["protocol"], "receiver": o["receiver"],
                                       "verdict": o["verdict"], "openings": 0, "elements": 0, "shapes": []})
            row["openings"] += 1
            row["elements"] += o["elements"]
            if len(row["shapes"]) < 4 and o["shapes"] not in row["shapes"]:
                row["shapes"].append(o["shapes"])
        return list(out.values())

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


#: collectives in which every party sends and receives the same amount (CrypTen logs both)
SYMMETRIC = ("all_reduce", "all_gather")
#: collectives that open shares (CrypTen reveals with all_reduce, or reduce to one party)
OPENINGS = ("all_reduce", "reduce")
#: (file suffix, function) -> protocol name, innermost match wins
PROTOCOLS = (
    ("secfwt/mpc/cosine.py", None, "trig (m x + T)"),
    ("secfwt/mpc/lookup.py", None, "table lookup (x - a)"),
    ("secfwt/mpc/truncation.py", "exact_truncate", "exact truncation (x + r)"),
    ("secfwt/mpc/persistent.py", "open_all", "fixed-operand mask (W - B), once per run"),
    ("secfwt/mpc/persistent.py", "product", "Beaver, fixed operand (x - a)"),
    ("crypten/mpc/primitives/beaver.py", "AND", "binary AND (x ^ a)"),
    ("crypten/mpc/primitives/beaver.py", "B2A_single_bit", "bit conversion (x ^ r)"),
    ("crypten/mpc/primitives/beaver.py", "square", "Beaver square (x - r)"),
    ("crypten/mpc/primitives/beaver.py", None, "Beaver (x - a, y - b)"),
)


#: protocols whose openings are masked single bits (uniform over {0, 1}, not over the ring)
UNIFORM_BY_PROTOCOL = ("bit conversion (x ^ r)",)


def _protocol() -> str:
    """The protocol that made the current opening, from the call stack (innermost first)."""
    frame = sys._getframe(2)
    while frame is not None:
        path = frame.f_code.co_filename.replace("\\", "/")
        for suffix, func, name in PROTOCOLS:
            if path.endswith(suffix) and (func is None or frame.f_code.co_name == func):
                return name
        frame = frame.f_back
    return "reveal"


_ACTIVE: Meter | None = None


@contextlib.contextmanager
def scope(name: str):
    """Name a region of work; a no-op when no meter is active (plaintext runs, tests)."""
    if _ACTIVE is None:
        yield
    else:
        with _ACTIVE.scope(name):
            yield

