"""Record schema, JSON-lines storage and environment metadata.

A record is one measured run of one workload with one parameter set.  Metadata
lives in fields (never in file names).  Counts are integers; ``bytes`` are the
online bytes sent by all computing parties together, ``offline_bytes`` the
dealer's traffic (TTP only).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import subprocess
import sys
from datetime import datetime, timezone
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from .errors import InputError

#: Fields every record carries (tests and the report validate against this).
RECORD_FIELDS = (
    "workload", "params", "world_size", "provider", "security", "rounds", "bytes", "offline_rounds",
    "offline_bytes", "compute_s", "wall_s", "est_s", "links", "max_abs_err", "tolerance", "status",
    "scopes", "env",
)
STATUSES = ("ok", "inaccurate", "error")
#: provider of records computed in the plaintext twin (tuning trajectories): no MPC, no counts
PLAINTEXT = "plaintext"
#: the deterministic counters of a record (exact; gated; extrapolated exactly)
COUNTERS = ("rounds", "bytes", "offline_rounds", "offline_bytes", "duplex_bytes")
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


#: parameters added after records were made, with the value every older record ran at (the
#: behaviour before the parameter existed): a key leaves such a parameter out at that value, so a
#: record stored before it existed and one measured now at that value are the same measurement
BACKFILLED_PARAMS = {"weight_masks": "fresh", "fixed_inputs": "recomputed", "inv_sqrt": "crypten"}
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
#: reporting; a change here makes finished records of other code stale for a resumed sweep
MEASURING_CODE = ("mpc", "nn", "tuning", "data", "workloads.py", "micro.py", "variants.py", "runner.py", "results.py")


@lru_cache(maxsize=1)
def code_version() -> str:
    """A digest of the measuring code and data (:data:`MEASURING_CODE`, file by file) and of the torch and
    CrypTen versions: records carry it (``code_version``), and a resumed sweep reuses only records
    whose digest is this one."""
    import hashlib

    root = Path(__file__).resolve().parent
    digest = hashlib.sha256()
    for entry in MEASURING_CODE:
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


#: the fields every stored record has (its identity, see :func:`record_key`, and its outcome)
RECORD_IDENTITY = {"workload", "params", "provider", "world_size", "status"}


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
            if not isinstance(record, dict) or not RECORD_IDENTITY <= set(record):
                raise InputError(f"{self.path}:{n}: not a secfwt record (needs {', '.join(sorted(RECORD_IDENTITY))})")
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
