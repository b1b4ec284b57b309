"""The records frame: one row per record, parameters and per-scope costs as columns; helpers every table shares."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .. import variants as attn  # the attention registry
from ..links import record_estimates
from ..results import EXTRAPOLATION_AXES, ONE_TIME, PLAINTEXT, Record, aggregate_layers, compute_from_noise, key_of
from . import plotting

#: the record's own fields every row has; a workload's check fields (its ``Workload.checks``, which
#: a record lists in ``check_fields``) become columns as they come, so a new one needs no entry here
BASE_COLUMNS = ("workload", "provider", "status", "rounds", "bytes", "offline_rounds", "offline_bytes",
                "duplex_bytes", "compute_s", "wall_s", "world_size", "security")


VARIANT_ORDER = list(attn.VARIANTS)


def records_frame(records: list[dict]) -> pd.DataFrame:
    """One row per record: parameters become columns, ``est_s`` becomes ``est_s_<link>``."""
    rows = []
    for r in records:
        row = {k: r.get(k) for k in BASE_COLUMNS}
        if r.get("provider") != PLAINTEXT:  # a plaintext twin's results are a trajectory, not checks
            row.update(_check_columns(Record.from_json(r)))
        row.update(r.get("params", {}))  # a check repeating a parameter (fot-mpc's test_rows) gives way
        for link, seconds in record_estimates(r).items():  # the current time model, from the counts
            row[f"est_s_{link}"] = seconds
        env = r.get("env") or {}
        row.update(git_sha=env.get("git_sha"), cpu=env.get("cpu"), date=env.get("date"))
        row.update(_scope_columns(r.get("scopes") or {}))
        row["extrapolated"] = "extrapolation" in r
        if compute_from_noise(r):  # no compute was measured to extrapolate: no time with compute either
            row.update({k: float("nan") for k in row
                        if k == "compute_s" or k.endswith("_compute_s") or k.startswith("est_s_")})
        for counter, value in (r.get("one_time") or {}).items():  # what an amortising run pays once
            if counter != "est_s":
                row[f"one_time_{counter}"] = value
        if r.get("extrapolation", {}).get("target_layers") is not None:
            row["layers"] = r["extrapolation"]["target_layers"]
            # an extrapolated record's checks (max_abs_err...) are its deepest measured run's
            row["checked_layers"] = max(r["extrapolation"].get("measured_layers") or [0])
            row.update(_per_block(r["extrapolation"]))
        rows.append(row)
    return pd.DataFrame(rows)


def _check_columns(record: Record) -> dict:
    """The record's scalar checks, and None for each check it lists without a value (an error
    record lists those its workload declares): a table of failed runs still has their columns."""
    checks = record.checks()
    row = {k: v for k, v in checks.items() if v is None or isinstance(v, (bool, int, float, str))}
    return {**dict.fromkeys(k for k in record.check_fields or () if k not in checks), **row}


#: the encoder's components whose costs inside the forward pass get columns (``fwd_softmax_bytes``...):
#: the scope names :mod:`secfwt.nn` gives them
COMPONENTS = ("softmax", "gelu", "layernorm", "embeddings", "head")


SCOPE_COUNTERS = ("rounds", "bytes", "offline_bytes", "compute_s")


def _scope_columns(scopes: dict) -> dict:
    """Per-phase totals (``forward_rounds``...: every top-level scope, as its workload declares
    them) and per-component totals inside the forward pass (``fwd_softmax_bytes``...: every scope
    named like the component, summed over layers)."""
    folded = aggregate_layers(scopes)
    cols = {}
    for phase in (path for path in folded if path and "." not in path and path != ONE_TIME):  # one_time_*: below
        for c in SCOPE_COUNTERS:
            cols[f"{phase}_{c}"] = folded[phase].get(c)
    for comp in COMPONENTS:
        paths = [p for p in folded if p.startswith("forward.") and p.rsplit(".", 1)[-1] == comp]
        paths = [p for p in paths if not any(q != p and p.startswith(q + ".") for q in paths)]  # outermost only
        if paths:
            for c in SCOPE_COUNTERS:
                values = [folded[p].get(c) for p in paths]
                cols[f"fwd_{comp}_{c}"] = None if None in values else sum(values)
    return cols


def _per_block(extrapolation: dict) -> dict:
    """One encoder block's counts (``block_rounds``...): the difference of the two measured depths
    at the largest measured batch and population (exact: identical blocks cost the same)."""
    measured = extrapolation.get("measured") or []
    if not measured:
        return {}
    # older records list the measured depths beside, not inside, their counts
    measured = [{"layers": n, **m} for n, m in zip(extrapolation.get("measured_layers", []), measured)] \
        if "layers" not in measured[0] else measured
    largest = {a: max(m.get(a, 1) for m in measured) for a in EXTRAPOLATION_AXES if a != "layers"}
    by_depth = sorted((m for m in measured if all(m.get(a, 1) == v for a, v in largest.items())),
                      key=lambda m: m["layers"])
    if len(by_depth) < 2:
        return {}
    one, two = by_depth[-2], by_depth[-1]
    return {f"block_{c}": two[c] - one[c] for c in ("rounds", "bytes", "offline_bytes", "duplex_bytes")
            if c in one and c in two}


def latest_records(records: list[dict]) -> list[dict]:
    """Drop superseded measurements: one record per (workload, params, provider, world size), the
    newest that finished; a failed run only shows where nothing finished."""
    latest = {}
    for r in records:
        key = key_of(r)
        if r.get("status") != "error" or latest.get(key, {}).get("status", "error") == "error":
            latest[key] = r
    return list(latest.values())


def require_columns(df: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: records lack column(s) {', '.join(missing)}")


def measured_rows(df: pd.DataFrame, workload: str) -> pd.DataFrame:
    sub = df[df["workload"] == workload] if "workload" in df else df
    return sub[sub["status"] != "error"] if "status" in sub else sub


def with_backward_flag(sub: pd.DataFrame) -> pd.DataFrame:
    """The rows with a boolean ``backward`` column (records from before the parameter: False)."""
    sub = sub.copy()
    sub["backward"] = sub["backward"].fillna(False).astype(bool) if "backward" in sub else False
    return sub


def forward_rows(sub: pd.DataFrame) -> pd.DataFrame:
    """The runs of a micro workload that measured the forward alone (not ``backward=True``)."""
    sub = with_backward_flag(sub)
    return sub[~sub["backward"]]


def pyplot():
    return plotting.pyplot()


def variant_sorted(df: pd.DataFrame, *cols) -> pd.DataFrame:
    key = {v: i for i, v in enumerate(VARIANT_ORDER)}
    return df.sort_values(list(cols), key=lambda s: s.map(key).fillna(99) if s.name == "impl" else s)


def as_number(value) -> float:
    """A float, NaN for a missing value (a counter that older records lack)."""
    return float("nan") if value is None or (isinstance(value, float) and pd.isna(value)) else float(value)


def provenance(records: list[dict]) -> pd.DataFrame:
    """Where the numbers come from: per workload, provider and CPU (times with compute are only
    comparable on one CPU), the versions, how many commits measured them, the latest one's git sha
    and the dates."""
    rows, shas = {}, {}
    for r in records:
        env = r.get("env") or {}
        key = (r["workload"], r["provider"], env.get("cpu"))
        row = rows.setdefault(key, {"workload": r["workload"], "provider": r["provider"],
                                    "security": r.get("security"), "records": 0, "cpu": env.get("cpu"),
                                    "cores": env.get("cores"), "torch": env.get("torch"),
                                    "crypten": env.get("crypten"), "commits": 0, "git_sha": "",
                                    "first": env.get("date"), "last": None})
        row["records"] += 1
        shas.setdefault(key, set()).add(env.get("git_sha"))
        row["commits"] = len(shas[key] - {None})
        row["first"] = min(filter(None, [row["first"], env.get("date")]), default=None)
        if env.get("date") and (row["last"] is None or env["date"] >= row["last"]):
            row["last"], row["git_sha"] = env["date"], (env.get("git_sha") or "")[:10]
    table = pd.DataFrame(list(rows.values()))
    if not len(table):
        return table
    order = {w: i for i, w in enumerate(dict.fromkeys(r["workload"] for r in records))}  # as first met
    return table.sort_values(["workload", "provider", "cpu"], key=lambda c: c.map(order) if c.name == "workload"
                             else c.fillna("")).reset_index(drop=True)


#: the widest table reports/README.md shows; a wider one shows chosen columns and links the whole table
README_COLUMNS = 10


def narrow(table: pd.DataFrame, keep, name: str, text=None) -> str:
    """The README's view of a table: the columns ``keep`` (at most :data:`README_COLUMNS`) and, when
    that leaves columns out, a link to the whole table in ``tables/<name>.md``.  ``text``: how to
    write the kept columns (default :func:`markdown`)."""
    cols = [c for c in keep if c in table]
    if len(cols) > README_COLUMNS:
        raise ValueError(f"{name}: {len(cols)} columns are too wide for the README (at most {README_COLUMNS})")
    out = (text or markdown)(table[cols])
    if len(cols) < table.shape[1]:
        out += f"\n\nThe whole table ({table.shape[1]} columns): [tables/{name}.md](tables/{name}.md)."
    return out


#: how a README table writes a value it does not have (not measured, or a time with compute that would
#: be noise: ``secfwt.results.compute_from_noise``)
MISSING = "–"


def markdown(table: pd.DataFrame, floatfmt: str | None = None) -> str:
    """A markdown table with :data:`MISSING` where a value is missing (not ``nan``) and readable
    numbers: thousands separated, no 1.076e+04 notation; or, given ``floatfmt`` (``".3f"``), every
    float written with it."""
    if floatfmt is not None:
        cells = table.astype(object).where(table.notna(), None)
        return cells.to_markdown(index=False, floatfmt=floatfmt, missingval=MISSING)

    def fmt(v):
        if isinstance(v, (int, float)) and not isinstance(v, bool) and pd.isna(v):
            return MISSING
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return v
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"
    return table.map(fmt).to_markdown(index=False, disable_numparse=True)


def write_table(table: pd.DataFrame, stem: Path) -> list[Path]:
    """The table as ``stem``.csv and ``stem``.md; returns both paths."""
    csv, md = stem.with_suffix(".csv"), stem.with_suffix(".md")
    table.to_csv(csv, index=False)
    md.write_text(markdown(table) + "\n")
    return [csv, md]
