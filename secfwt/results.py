"""Record schema, JSON-lines storage and environment metadata.

A record is one measured run of one workload with one parameter set.  Metadata
lives in fields (never in file names).  Counts are integers; ``bytes`` are the
online bytes sent by all computing parties together, ``offline_bytes`` the
dealer's traffic (TTP only).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import platform
import re
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from .errors import InputError
from .variants import SETTINGS

STATUSES = ("ok", "inaccurate", "error")
#: provider of records computed in the plaintext twin (tuning trajectories): no MPC, no counts
PLAINTEXT = "plaintext"
#: the deterministic counters of a record (exact; gated; extrapolated exactly)
COUNTERS = ("rounds", "bytes", "offline_rounds", "offline_bytes", "duplex_bytes")
#: the counters every finished MPC record carries (duplex_bytes came later: older records lack it)
REQUIRED_COUNTERS = ("rounds", "bytes", "offline_rounds", "offline_bytes")


def is_count(value) -> bool:
    """A counter's value: a non-negative whole number (an int, or a float such as 4096.0; not a bool
    or a string)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return value >= 0 and float(value).is_integer()


def missing_counts(record: dict) -> list[str]:
    """The required counters a finished MPC record lacks or holds as something other than a count
    (a hand-edited or damaged record); [] for errors and plaintext-twin records, which have none."""
    if record.get("status") not in ("ok", "inaccurate") or record.get("provider") == PLAINTEXT:
        return []
    return [c for c in REQUIRED_COUNTERS if not is_count(record.get(c))]


#: the parameters an extrapolated record's measured runs can differ in (secfwt.workloads.step)
EXTRAPOLATION_AXES = ("layers", "batch", "population")


def compute_from_noise(record: dict) -> bool:
    """An extrapolated record whose measured compute did not grow from the shallower run to the deeper
    one (or from the smaller batch or population to the larger) at some point: its extrapolated ``compute_s`` is then
    a difference of noisy times floored at 0, not a measurement, so a report gives no time with compute
    for it (its counts stay exact; network-only times stand)."""
    measured = (record.get("extrapolation") or {}).get("measured") or []
    if not measured or any("layers" not in m or "compute_s" not in m for m in measured):
        return False  # not extrapolated, or an old record that lists its depths and times apart

    axes = [a for a in EXTRAPOLATION_AXES if any(a in m for m in measured)]

    def grows(axis: str) -> bool:  # along ``axis``, at every combination of the others
        others = [a for a in axes if a != axis]
        for fixed in {tuple(m.get(a, 1) for a in others) for m in measured}:
            line = sorted((m for m in measured if tuple(m.get(a, 1) for a in others) == fixed),
                          key=lambda m: m.get(axis, 1))
            if any(b["compute_s"] <= a["compute_s"] for a, b in zip(line, line[1:])):
                return False
        return True

    return not all(grows(axis) for axis in axes)


#: the scope of work done once per run rather than once per candidate or step (persistent weight
#: masks opened, fixed inputs looked up): records report it apart (``one_time``), not in their totals
ONE_TIME = "one_time"


LAYER_SCOPE = re.compile(r"(?<![^.])layer\d+(?![^.])")


def aggregate_layers(scopes: dict) -> dict:
    """Fold per-block scopes (``forward.layer3.attn``) into ``forward.layers.attn`` (summed)."""
    out: dict = {}
    for path, tally in scopes.items():
        key = LAYER_SCOPE.sub("layers", path)
        acc = out.setdefault(key, {k: 0 for k in tally})
        for k, v in tally.items():
            acc[k] += v
    return out


@dataclass(frozen=True)
class Costs:
    """What a run, or one scope of it, cost: exact counters (:data:`COUNTERS`) and measured seconds.
    Folded over the parties by :meth:`fold`, extrapolated by :meth:`affine`; stored as a dict."""

    rounds: int = 0
    bytes: int = 0
    offline_rounds: int = 0
    offline_bytes: int = 0
    duplex_bytes: int = 0
    compute_s: float = 0.0
    offline_s: float = 0.0  # of the time in communication, the time spent waiting on the dealer
    wall_s: float = 0.0

    @classmethod
    def of(cls, tally: dict) -> Costs:
        """From a stored or per-party tally (a field it lacks is 0: the tally predates it)."""
        return cls(**{f.name: tally.get(f.name, f.default) for f in dataclasses.fields(cls)})

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def fold(cls, views: list[dict]) -> Costs:
        """One scope over the parties: rounds and times are the max over parties (they run in
        parallel); online bytes are the sum of the parties' logs halved (each byte is logged by its
        sender and by its receiver); offline bytes are summed (the dealer logs nothing); the busier
        direction's bytes (full duplex) are the busier party's."""
        v = [cls.of(view) for view in views]
        return cls(rounds=max(c.rounds for c in v), bytes=int(round(sum(c.bytes for c in v) / 2)),
                   offline_rounds=max(c.offline_rounds for c in v),
                   offline_bytes=int(round(sum(c.offline_bytes for c in v))),
                   duplex_bytes=int(round(max(c.duplex_bytes for c in v))),
                   compute_s=max(c.compute_s for c in v), offline_s=max(c.offline_s for c in v),
                   wall_s=max(c.wall_s for c in v))

    def __sub__(self, other: Costs) -> Costs:
        return Costs(**{f: getattr(self, f) - getattr(other, f) for f in COST_FIELDS})

    def clamped(self) -> Costs:
        """Times floored at 0 (a difference of noisy times can be negative; a cost never is)."""
        return Costs(**{f: getattr(self, f) if f in COUNTERS else max(getattr(self, f), 0.0) for f in COST_FIELDS})

    @classmethod
    def affine(cls, terms: list[tuple[float, Costs]]) -> Costs:
        """sum of weight * costs over (weight, costs) terms; counters rounded to integers (exact
        when the terms are).  Each term's times are floored at 0 before they are weighted, so an
        extrapolated time is never below the smallest measured one."""
        acc = dict.fromkeys(COST_FIELDS, 0)
        for weight, costs in terms:
            for f, v in costs.clamped().as_dict().items():
                acc[f] = acc[f] + weight * v
        return cls(**{f: int(round(v)) if f in COUNTERS else max(float(v), 0.0) for f, v in acc.items()})


#: the counters of a run or a scope (a record's and each scope's)
COST_FIELDS = tuple(f.name for f in dataclasses.fields(Costs))


@dataclass
class Record:
    """One measured run, every field the suite writes named here (:meth:`to_json` writes the stored
    layout, :meth:`from_json` reads every stored record, old ones included).  The workload's own
    fields (its checks against plaintext; a plaintext twin's outcome) sit beside these at the top
    level of the stored form; here they are ``results``."""

    workload: str
    params: dict
    provider: str  # "ttp", "tfp" or "plaintext" (the plaintext twin: no MPC, no counts)
    world_size: int
    status: str  # one of STATUSES
    security: str | None = None  # what the provider protects and what it does not
    links: dict | None = None  # name -> bandwidth, latency, duplex (the links est_s is for)
    env: dict | None = None  # environment(): versions, machine, date
    code_version: str | None = None  # code_version(): a resumed sweep reuses only records of this code
    tolerance: float | None = None  # max_abs_err at or below it: "ok", above it: "inaccurate"
    # costs per unit of work (a step, a generation): the one-time part is apart in one_time
    rounds: int | None = None
    bytes: int | None = None  # online, both computing parties together
    offline_rounds: int | None = None
    offline_bytes: int | None = None  # the dealer's traffic (TTP)
    duplex_bytes: int | None = None  # the busier direction's online bytes (full duplex)
    compute_s: float | None = None
    offline_s: float | None = None
    wall_s: float | None = None  # measured on this machine (over the emulated link, if any)
    est_s: dict | None = None  # link name -> modelled seconds (secfwt.links.estimates)
    scopes: dict | None = None  # scope path -> Costs.as_dict(), inclusive; "" is the whole run
    one_time: dict | None = None  # the ONE_TIME scope's counters and est_s, paid once per run
    check_fields: list | None = None  # which of ``results`` are the workload's checks
    run_s: float | None = None  # launcher's wall time for the whole run, start-up included
    error: str | None = None  # status "error": why
    per_party: dict | None = None  # rank -> CrypTen's own counters and the party's total
    extrapolation: dict | None = None  # measured depths/batches and the rule (extrapolate=true)
    emulated_link: dict | None = None  # the emulated link the parties talked over (secfwt.mpc.emulate)
    protocol_seed: int | None = None  # SECFWT_PROTOCOL_SEED: reproducible masks, not secure
    reveal_audit: dict | None = None  # rank -> every online opening (workloads with an audit)
    teardown_error: str | None = None  # a process failed after the complete result was in
    reestimated_from: dict | None = None  # links the counts were measured under (est_s redone)
    results: dict = field(default_factory=dict)

    def costs(self) -> Costs:
        """The per-unit costs as :class:`Costs` (a counter the record lacks is 0)."""
        return Costs(**{f: getattr(self, f) or 0 for f in COST_FIELDS})

    def set_costs(self, costs: Costs) -> None:
        for f in COST_FIELDS:
            setattr(self, f, getattr(costs, f))

    def checks(self) -> dict:
        """The workload's checks (all of ``results`` for records older than ``check_fields``)."""
        names = self.check_fields if self.check_fields is not None else self.results
        return {k: self.results[k] for k in names if k in self.results}

    def to_json(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "results"}
        out = {k: v for k, v in out.items() if v is not None or k in _REQUIRED}  # None: the record lacks it
        clash = set(self.results) & RECORD_FIELDS
        if clash:
            raise ValueError(f"workload fields {sorted(clash)} clash with the record's own")
        return {**out, **self.results}

    @classmethod
    def from_json(cls, data: dict) -> Record:
        """A stored record; fields the schema does not name are the workload's ``results``."""
        missing = _REQUIRED - set(data)
        if missing:
            raise ValueError(f"not a secfwt record (lacks {', '.join(sorted(missing))})")
        own = {k: v for k, v in data.items() if k in RECORD_FIELDS}
        return cls(**own, results={k: v for k, v in data.items() if k not in RECORD_FIELDS})


#: the fields a record holds of its own (a workload's fields sit beside them and may not clash)
RECORD_FIELDS = frozenset(f.name for f in dataclasses.fields(Record)) - {"results"}
_REQUIRED = {f.name for f in dataclasses.fields(Record) if f.default is dataclasses.MISSING
             and f.default_factory is dataclasses.MISSING}


#: parameters added after records were made, with the value every older record ran at (the
#: behaviour before the parameter existed): a key leaves such a parameter out at that value, so a
#: record stored before it existed and one measured now at that value are the same measurement
BACKFILLED_PARAMS = {**{s: SETTINGS[s].default for s in ("weight_masks", "fixed_inputs", "inv_sqrt", "truncation")}, "data_seed": 13,
                     "backward": False, "test_offset": 0}
_ABSENT = object()


def record_key(workload: str, params: dict, provider: str, world_size: int, emulated: str | None = None) -> str:
    """Identity of a measurement, used to skip finished work when a sweep is rerun, to gate counts
    and to pick the latest record (parameters at their backfilled value left out).  A run over an
    emulated link (``emulated``: the link's name) is a measurement of its own."""
    params = {k: v for k, v in params.items() if BACKFILLED_PARAMS.get(k, _ABSENT) != v}
    return json.dumps([workload, params, provider, world_size] + ([emulated] if emulated else []), sort_keys=True)


def emulated_name(record: dict) -> str | None:
    """The name of the emulated link a record was measured over (None: no link, loopback)."""
    return (record.get("emulated_link") or {}).get("name")


def key_of(record: dict) -> str:
    """:func:`record_key` of a stored record."""
    return record_key(record["workload"], record["params"], record["provider"], record["world_size"],
                      emulated_name(record))


@lru_cache(maxsize=1)
def environment() -> dict:
    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    try:
        here = Path(__file__).resolve().parent
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True,
                             timeout=5).stdout.strip()
        sha = sha if len(sha) == 40 else None
    except (OSError, subprocess.SubprocessError):
        sha = None
    return {
        "git_sha": sha,
        "python": platform.python_version(),
        "torch": version("torch"),
        "crypten": version("crypten"),
        "transformers": version("transformers"),
        "secfwt": version("secfwt"),
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "machine": platform.machine(),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


#: what decides a measurement (counts, compute, checks): the package's measuring code, not its
#: reporting; a change here makes finished records of other code stale for a resumed sweep (each
#: workload adds its own module: secfwt.workloads.base.Workload.code)
MEASURING_CODE = ("mpc", "nn", "tuning", "data", "variants.py", "runner.py", "results.py", "errors.py")
#: what a plaintext tuning trajectory depends on (the twin, the runs, the data), and nothing of the
#: MPC launcher or the record format: hours-long sweeps stay valid across changes elsewhere
PLAINTEXT_TWIN_CODE = ("tuning/runs.py", "tuning/config.py", "tuning/selection.py", "nn", "data", "variants.py")


@lru_cache(maxsize=4)
def code_version(entries: tuple[str, ...] = MEASURING_CODE) -> str:
    """A digest of the measuring code and data (``entries`` under ``secfwt/``, default
    :data:`MEASURING_CODE`, file by file) and of the torch and CrypTen versions: records carry it
    (``code_version``), and a resumed sweep reuses only records whose digest is this one."""
    import hashlib

    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for entry in entries:
        path = root / entry
        files = [f for f in path.rglob("*") if f.is_file() and "__pycache__" not in f.parts] if path.is_dir() else [path]
        for f in sorted(files):
            digest.update(f.relative_to(root).as_posix().encode() + b"\0" + f.read_bytes() + b"\0")
    env = environment()
    digest.update(f"torch {env['torch']} crypten {env['crypten']}".encode())
    return digest.hexdigest()[:16]


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()



@contextlib.contextmanager
def exclusive(path: str | os.PathLike):
    """Hold ``<path>.lock`` (flock) while one secfwt process writes ``path``; a second writer gets
    a one-line ValueError instead of interleaving records.  The lock file is removed on release."""
    import fcntl

    lock = Path(str(Path(path).resolve()) + ".lock")  # the file itself, however it is named (links, ..)
    lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock, os.O_CREAT | os.O_RDWR, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        holder = lock.read_text().strip() or "another process"
        raise InputError(f"{path} is being written by another secfwt run (pid {holder}); wait for it "
                         "or use another --out") from None
    try:
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        yield
    finally:
        lock.unlink(missing_ok=True)
        os.close(fd)


class Store:
    """Append-only JSON-lines file of records; each record is flushed as it finishes."""

    def __init__(self, path: str | os.PathLike, warn: bool = False):
        self.path = Path(path)
        self.warn = warn  # say on stderr how many torn lines a load skipped (report, gate)

    def load(self) -> list[dict]:
        """Every record of the file.  Lines that are not JSON (a sweep killed mid-write) are skipped
        with one warning that counts them; anything else that is not a record is an error."""
        if not self.path.exists():
            return []
        if not self.path.is_file():
            raise InputError(f"{self.path}: not a records file (a folder or a device)")
        try:
            text = self.path.read_text()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{self.path}: cannot read it as records ({exc})") from None
        out, torn = [], 0
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                torn += 1  # a sweep killed mid-write leaves a torn line: skip it, it will be rerun
                continue
            if not isinstance(record, dict) or not _REQUIRED <= set(record):
                raise InputError(f"{self.path}:{n}: not a secfwt record (needs {', '.join(sorted(_REQUIRED))})")
            out.append(record)
        if torn and not out:
            raise InputError(f"{self.path}: no secfwt record in it ({torn} line(s) that are not JSON)")
        if torn and self.warn:
            print(f"secfwt: warning: {self.path}: skipped {torn} line(s) that are not JSON (torn writes; a "
                  "resumed sweep measures them again)", file=sys.stderr)
        return out

    def finished(self) -> dict[str, dict]:
        """Key -> the latest finished record (see :meth:`finished_keys`)."""
        out = {}
        for r in self.load():
            complete = r.get("provider") == PLAINTEXT or all(c in r for c in COUNTERS)
            if r.get("status") in ("ok", "inaccurate") and complete:
                out[key_of(r)] = r
        return out

    def finished_keys(self) -> set[str]:
        """Keys of finished records.  An MPC record that lacks a counter (measured before the
        counter existed, e.g. ``duplex_bytes``) is not finished: a resumed sweep measures it again."""
        return set(self.finished())

    def append(self, record: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        torn = self.path.exists() and self.path.stat().st_size > 0 and not self.path.read_bytes().endswith(b"\n")
        with self.path.open("a") as f:
            if torn:
                f.write("\n")
            f.write(json.dumps(record, sort_keys=True) + "\n")
            f.flush()
            os.fsync(f.fileno())
