"""One secure BERT-base forward at L = 128 beside the published 2PC inference systems (the
``inference`` profile's records; the anchors live in :data:`secfwt.paper.PUBLISHED_INFERENCE`).

Each configuration is measured as a FoT generation of 2 and of 3 candidates at batch 1: counts are
linear in the candidates, so one forward's bytes are 2 c(2) - c(3) exactly (what a single forward pays
once, such as fresh weight masks, stays in), and its rounds are the generation's (the candidates run
batched).  The persistent masks' one-time part is the 2-candidate run's ``one_time``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .. import paper
from ..links import PROFILES as LINKS
from ..links import ROUND_TRIPS_PER_ROUND, network_seconds
from ..profiles import INFERENCE_CONFIGS, INFERENCE_DEPTH_SEQ, INFERENCE_POPULATIONS
from ..variants import SETTINGS
from .frame import markdown, write_table

GB = 1e9
#: every protocol setting at the paper's choice (a record that does not name a setting made it)
PAPER_SETTINGS = {name: setting.default for name, setting in SETTINGS.items()}
INFERENCE_HEADING = f"One {paper.INFERENCE_MODEL} forward at L = {paper.INFERENCE_SEQ} beside published systems"
NETWORK_LINKS = ("lan", "wan100")
#: round trips per round of the published systems' own protocols (one exchange each; this suite's
#: CrypTen rounds cost two, a gloo all-reduce, as emulated links measured: links.ROUND_TRIPS_PER_ROUND)
PUBLISHED_ROUND_TRIPS = 1


def _matches(record: dict, config: dict) -> bool:
    p = record.get("params", {})
    shape = {"model": paper.INFERENCE_MODEL, "seq": paper.INFERENCE_SEQ, "batch": 1, "method": "fot"}
    wanted = {**shape, **{k: v[0] for k, v in config.items()}}
    wanted = {**PAPER_SETTINGS, **wanted}
    return record.get("workload") == "step" and record.get("status") == "ok" and all(
        p.get(k, PAPER_SETTINGS.get(k)) == v for k, v in wanted.items())


def _scope_bytes(record: dict, name: str, key: str = "bytes") -> float:
    """A scope's count; ``forward.layers.X`` of a record measured at full depth (not extrapolated) is
    the sum of its ``forward.layer<i>.X``."""
    scopes = record.get("scopes", {})
    if name in scopes or not name.startswith("forward.layers."):
        return float(scopes.get(name, {}).get(key, 0.0))
    rest = name[len("forward.layers."):]
    return float(sum(v.get(key, 0.0) for k, v in scopes.items()
                     if re.fullmatch(rf"forward\.layer\d+\.{re.escape(rest)}", k)))


def _one_forward(small: dict, large: dict, key: str = "bytes", scope: str | None = None) -> float:
    """A count of one candidate's forward, c(1), from the linear c(n) = fixed + n per-candidate measured
    at the two populations."""
    def get(r):
        return _scope_bytes(r, scope, key) if scope else float(r[key])

    n, m = small["params"]["population"], large["params"]["population"]
    return ((m - 1) * get(small) - (n - 1) * get(large)) / (m - n)


def inference_table(records: list[dict]) -> pd.DataFrame:
    """One row per measured configuration, then the published anchors."""
    rows = []
    small, large = INFERENCE_POPULATIONS
    for label, config in INFERENCE_CONFIGS.items():
        runs = {r["params"]["population"]: r for r in records if _matches(r, config)}
        if small not in runs or large not in runs:
            continue
        a, b = runs[small], runs[large]
        online, dealer = _one_forward(a, b), _one_forward(a, b, "offline_bytes")
        once = a.get("one_time") or {}
        row = {"system": f"secfwt: {label}", "online_GB": online / GB, "dealer_GB": dealer / GB,
               "one_time_GB": once.get("bytes", 0.0) / GB, "rounds": int(a["rounds"]),
               "word_lookup_GB": (_one_forward(a, b, scope="forward.embeddings")
                                  + _scope_bytes(a, "one_time.embeddings")) / GB,
               "softmax_max_GB": _one_forward(a, b, scope="forward.layers.attn.softmax.max") / GB}
        for link in NETWORK_LINKS:
            row[f"{link}_net_s"] = network_seconds(row["rounds"], online, LINKS[link])
        # protocol against protocol: every row at one round trip per round
        row["wan100_net_1rt_s"] = network_seconds(row["rounds"], online, LINKS["wan100"], round_trips=1)
        row["provider"] = a.get("provider", "")
        row["source"] = "measured: 2 and 3 candidates, blocks 0 and 1, extrapolated to 12 (exact counts)"
        rows.append(row)
    for pub in paper.PUBLISHED_INFERENCE:
        row = {"system": f"{pub.system} ({pub.family})", "online_GB": pub.online_gb, "dealer_GB": pub.dealer_gb,
               "one_time_GB": None, "rounds": pub.rounds, "word_lookup_GB": None, "softmax_max_GB": None,
               "total_GiB": pub.total_gib}
        if pub.online_gb is not None:
            for link in NETWORK_LINKS:
                row[f"{link}_net_s"] = network_seconds(pub.rounds, pub.online_gb * GB, LINKS[link],
                                                       round_trips=PUBLISHED_ROUND_TRIPS)
            row["wan100_net_1rt_s"] = network_seconds(pub.rounds, pub.online_gb * GB, LINKS["wan100"], round_trips=1)
        row["provider"] = ""
        row["source"] = f"published: {pub.source}; counts {pub.convention}"
        rows.append(row)
    return pd.DataFrame(rows) if any(r["system"].startswith("secfwt") for r in rows) else pd.DataFrame()


def summary_lines(records: list[dict]) -> list[str]:
    """The report's opening: this suite's cheapest exact forward beside the published systems."""
    table = inference_table(records)
    if not len(table):
        return []
    ours = table[table["system"].str.startswith("secfwt") & table["system"].str.contains("exact")]
    if not len(ours):
        return []
    best = ours.iloc[0]
    published = [f"{r.system.split(' (')[0]} {r.online_GB:.3g} GB / {r.rounds:,} rounds / {r.wan100_net_s:,.0f} s"
                 for r in table.itertuples() if not r.system.startswith("secfwt") and pd.notna(r.online_GB)]
    return [f"Exact attention in 2PC ([inference](tables/inference.md)): one {paper.INFERENCE_MODEL} forward at "
            f"L = {paper.INFERENCE_SEQ} costs {best.online_GB:.3g} GB online and {int(best.rounds):,} rounds, "
            f"{best.wan100_net_s:,.0f} s of WAN-100 network time (CrypTen's {ROUND_TRIPS_PER_ROUND} round trips a "
            f"round; {best.wan100_net_1rt_s:,.0f} s at the published systems' 1) "
            f"({best.system.removeprefix('secfwt: ').removesuffix(' (exact)')}; +{best.one_time_GB:.3g} GB once per "
            "run, the dealer "
            f"{best.dealer_GB:.3g} GB at random weights' score range, more at a pretrained model's: see the table), "
            f"against {'; '.join(published)} (published, GPU).{agreement_text(records)}",
            ""]


def agreement_text(records: list[dict]) -> str:
    """softmax-lookup's predictions against the exact model's on the agreement profile's windows of
    test sentences (2PC FoT with the data owner, MiniLM at full depth), per task; '' without them."""
    from .accuracy import parity_table, windowed_agreement

    runs = [r for r in windowed_agreement(parity_table(records)) if r["attention"] == "softmax-lookup"]
    if not runs:
        return ""
    tasks = "; ".join(f"{r['task']} {r['agree']} of {r['n']} ({r['agree'] / r['n']:.1%})" for r in runs)
    return (f" With pretrained MiniLM at full depth (2PC FoT with the data owner), softmax-lookup's prediction "
            f"equals the exact model's on {tasks} test sentences.")


def depth_table(records: list[dict]) -> pd.DataFrame:
    """softmax-lookup against softmax-stable at MiniLM's full depth on real sentences: the label logits'
    error against the plaintext twin (exact softmax for both), and what each paid."""
    rows = []
    for r in records:
        p = r.get("params", {})
        if r.get("workload") != "step" or p.get("model") != "minilm" or p.get("seq") != INFERENCE_DEPTH_SEQ \
                or p.get("method") != "fot" or p.get("head") != "sentence" or r.get("status") != "ok" \
                or p.get("attention") not in ("softmax-lookup", "softmax-stable"):
            continue
        rows.append({"task": p.get("task"), "attention": p["attention"], "max_abs_err": r.get("max_abs_err"),
                     "tolerance": r.get("tolerance"), "rounds": r["rounds"], "online_GB": r["bytes"] / GB,
                     "dealer_GB": r["offline_bytes"] / GB, "softmax_max_GB": _scope_bytes(r, "forward.layers.attn."
                                                                                          "softmax.max") / GB})
    return pd.DataFrame(rows).sort_values(["task", "attention"]) if rows else pd.DataFrame()


def lines(table: pd.DataFrame) -> list[str]:
    shown = [c for c in ("system", "online_GB", "dealer_GB", "one_time_GB", "total_GiB", "rounds", "lan_net_s",
                         "wan100_net_s", "wan100_net_1rt_s") if c in table]
    return [f"## {INFERENCE_HEADING}", "",
            "Per forward, batch 1 (BERT-base's shape and its vocabulary of 30,522). `online_GB` between the two "
            "computing parties (both directions), `dealer_GB` the dealer's correlated randomness (for the FSS "
            "systems their keys), `one_time_GB` what persistent weight masks pay once per run; network time "
            "alone (rounds x round trips x latency + online bytes / bandwidth, half duplex): `lan_net_s` and "
            "`wan100_net_s` count each system's rounds as it runs them (this suite's CrypTen rounds 2 round trips "
            "each, a gloo all-reduce, as measured over emulated links; the published protocols' 1), "
            "`wan100_net_1rt_s` every row at 1 round trip per round (protocol against protocol). The published "
            "systems ran on GPUs and count as their sources do (the `source` column of the linked table). "
            "softmax-lookup's dealer bytes scale with its window, twice the calibrated largest |score| (plus the "
            "padding bias where keys are padded): this row's random weights (|score| <= 2.7 with margin) and "
            "unpadded batch need 32-entry tables for the max; pretrained MiniLM's calibrated bounds need 256 to "
            "2,048 entries per layer with padding, so its max would cost the dealer 8 to 64 times this row's "
            "(online bytes and rounds do not change).", "",
            markdown(table[shown], floatfmt=".3g"), ""]


def paper_shape_table(records: list[dict]) -> pd.DataFrame:
    """FoT at the paper's shape (paper.SHAPE; the cheap GeLU and fused QKV; 2 candidates one
    at a time) with softmax-lookup beside softmax-stable: per candidate, half the generation."""
    rows = []
    for r in records:
        p = r.get("params", {})
        if r.get("workload") != "step" or r.get("status") != "ok" or p.get("model") != paper.MODEL \
                or p.get("seq") != paper.SEQ or p.get("method") != "fot" or p.get("fot_mode") != "sequential" \
                or p.get("gelu") != "fourier" or p.get("qkv") != "fused" or p.get("population") != 2 \
                or any(p.get(k, PAPER_SETTINGS[k]) != PAPER_SETTINGS[k] for k in ("weight_masks", "inv_sqrt")) \
                or p.get("attention") not in ("softmax-lookup", "softmax-stable"):
            continue
        n = p["population"]
        rows.append({"attention": p["attention"], "online_GB_per_candidate": r["bytes"] / n / GB,
                     "softmax_max_GB_per_candidate": _scope_bytes(r, "forward.layers.attn.softmax.max") / n / GB,
                     "dealer_GB_per_candidate": r["offline_bytes"] / n / GB, "rounds_per_candidate": r["rounds"] / n})
    return pd.DataFrame(rows).sort_values("attention") if rows else pd.DataFrame()


def paper_shape_lines(table: pd.DataFrame) -> list[str]:
    return [f"At the paper's shape ({paper.SHAPE}, 50 prompt tokens; FoT with the Fourier GeLU and fused QKV, "
            "fresh weight masks; one candidate's forward):", "", markdown(table, floatfmt=".4g"), ""]


def depth_lines(table: pd.DataFrame) -> list[str]:
    return ["softmax-lookup at MiniLM's full depth (6 blocks, real training sentences, 4 rows x 2 candidates, "
            f"L = {INFERENCE_DEPTH_SEQ}; the label logits against the plaintext twin, exact softmax for both; "
            "per generation):", "", markdown(table, floatfmt=".3g"), ""]


def write(records: list[dict], tables: Path) -> tuple[list[Path], list[str]]:
    table, depth, shape = inference_table(records), depth_table(records), paper_shape_table(records)
    written, text = [], []
    if len(table):
        written += write_table(table, tables / "inference")
        text += lines(table)
    if len(depth):
        written += write_table(depth, tables / "inference_depth")
        text += depth_lines(depth) if text else [f"## {INFERENCE_HEADING}", ""] + depth_lines(depth)
    if "softmax-lookup" in set(shape.get("attention", ())):
        written += write_table(shape, tables / "inference_paper_shape")
        text += paper_shape_lines(shape) if text else [f"## {INFERENCE_HEADING}", ""] + paper_shape_lines(shape)
    return written, text
