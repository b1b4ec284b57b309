"""The regression gate: deterministic counts of a profile against a committed baseline.

Rounds and bytes (online and dealer) depend only on the workload and its parameters, so
any change in them is a real change in the protocol or the model.  Times are noisy on
shared machines and are never gated.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import InputError
from .results import COUNTERS as GATED
from .results import PLAINTEXT, is_count, key_of


def counts(records: list[dict]) -> dict:
    """{record key: {counter: value}} for every finished record (the newest per key)."""
    out = {}
    for r in records:
        if r.get("status") in ("ok", "inaccurate") and r.get("provider") != PLAINTEXT:
            out[key_of(r)] = {c: r.get(c) for c in GATED}
    return out


def write(records: list[dict], path: str | Path) -> int:
    table = counts(records)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([{"key": json.loads(k), **v} for k, v in sorted(table.items())], indent=1) + "\n")
    return len(table)


def load(path: str | Path) -> dict:
    """The committed baseline; a file that is not one raises a one-line ValueError."""
    path = Path(path)
    try:
        rows = json.loads(path.read_text())
        for row in rows:
            key = row["key"]
            if not (isinstance(key, list) and len(key) == 4 and isinstance(key[1], dict)):
                raise TypeError(f"key {key!r} is not [workload, params, provider, world size]")
            bad = {c: row[c] for c in GATED if row.get(c) is not None and not is_count(row[c])}
            if bad:
                raise TypeError(f"counts {bad} of {key[0]} are not non-negative whole numbers")
        return {json.dumps(row["key"], sort_keys=True): {c: row.get(c) for c in GATED} for row in rows}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, TypeError, KeyError, AttributeError) as exc:
        raise InputError(f"{path}: not a secfwt baseline (a JSON list of {{key, counts}}): "
                         f"{type(exc).__name__}: {exc}") from None


def compare(current: dict, baseline: dict) -> list[str]:
    """Readable lines, one per moved counter or missing measurement; empty when all match."""
    lines = []
    for key in sorted(set(current) | set(baseline)):
        name = _describe(key)
        if key not in current:
            lines.append(f"missing now   {name} (in the baseline, not measured)")
            continue
        if key not in baseline:
            lines.append(f"new           {name} (measured, not in the baseline)")
            continue
        for c in GATED:
            old, new = baseline[key][c], current[key][c]
            if new is None and old is not None:
                lines.append(f"{c:<14}{name}: not in the records (measured before the counter existed: rerun)")
            elif old is None and new is None:
                continue
            elif old is None:
                lines.append(f"{c:<14}{name}: not in the baseline (a new counter: make bench-baseline records it)")
            elif old != new:
                change = f"{(new - old) / old:+.2%}" if old else "from 0"
                lines.append(f"{c:<14}{name}: {old:,} -> {new:,} ({new - old:+,}, {change})")
    return lines


def _describe(key: str) -> str:
    workload, params, provider, world_size = json.loads(key)
    shown = " ".join(f"{k}={v}" for k, v in params.items() if k != "seed")
    return f"{workload} [{shown}] provider={provider}"
