"""Tables and figures from stored records (pandas, matplotlib); no MPC is run here.

Plots are pure functions of a DataFrame and validate its columns first, so tests
can call them on small synthetic frames and assert on the data they plot.  Every
record file under ``reports/records/`` feeds the report; where two records measure
the same workload, parameters and provider, the newer one is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from . import plotting
from . import variants as attn  # the attention registry
from .accuracy import AMORTISING_PARAMS, VARIANT_PARAMS, variant_suffix
from .errors import InputError
from .links import PROFILES as LINK_PROFILES
from .links import estimate_seconds, network_seconds, record_estimates
from .results import Store, aggregate_layers, emulated_name, key_of
from .variants import FOT, LORA, PROMPT, SFT

BASE_COLUMNS = ("workload", "provider", "status", "rounds", "bytes", "offline_rounds", "offline_bytes",
                "duplex_bytes", "compute_s", "wall_s", "max_abs_err", "max_rel_err", "optimizer_rel_err",
                "optimizer_gross_errors", "optimizer_elements", "update_all_rel_err")
VARIANT_ORDER = list(attn.VARIANTS)


def records_frame(records: list[dict]) -> pd.DataFrame:
    """One row per record: parameters become columns, ``est_s`` becomes ``est_s_<link>``."""
    rows = []
    for r in records:
        row = {k: r.get(k) for k in BASE_COLUMNS + ("approx_err", "world_size", "security")}
        row.update(r.get("params", {}))
        for link, seconds in record_estimates(r).items():  # the current time model, from the counts
            row[f"est_s_{link}"] = seconds
        env = r.get("env") or {}
        row.update(git_sha=env.get("git_sha"), cpu=env.get("cpu"), date=env.get("date"))
        row.update(_scope_columns(r.get("scopes") or {}))
        row["extrapolated"] = "extrapolation" in r
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


PHASES = ("forward", "loss", "backward", "optimizer", "open", "share_prompts", "owner_update")
COMPONENTS = ("softmax", "gelu", "layernorm", "embeddings", "head")
SCOPE_COUNTERS = ("rounds", "bytes", "compute_s")


def _scope_columns(scopes: dict) -> dict:
    """Per-phase totals (top-level scopes) and per-component totals inside the forward pass
    (``fwd_softmax_bytes``...: every scope named like the component, summed over layers)."""
    folded = aggregate_layers(scopes)
    cols = {}
    for phase in PHASES:
        if phase in folded:
            for c in SCOPE_COUNTERS:
                cols[f"{phase}_{c}"] = folded[phase][c]
    for comp in COMPONENTS:
        paths = [p for p in folded if p.startswith("forward.") and p.rsplit(".", 1)[-1] == comp]
        paths = [p for p in paths if not any(q != p and p.startswith(q + ".") for q in paths)]  # outermost only
        if paths:
            for c in SCOPE_COUNTERS:
                cols[f"fwd_{comp}_{c}"] = sum(folded[p][c] for p in paths)
    return cols


def _per_block(extrapolation: dict) -> dict:
    """One encoder block's counts (``block_rounds``...): the difference of the two measured depths
    at the largest measured batch (exact: identical blocks cost the same)."""
    measured = extrapolation.get("measured") or []
    if not measured:
        return {}
    # older records list the measured depths beside, not inside, their counts
    measured = [{"layers": n, **m} for n, m in zip(extrapolation.get("measured_layers", []), measured)] \
        if "layers" not in measured[0] else measured
    batch = max(m.get("batch", 1) for m in measured)
    by_depth = sorted((m for m in measured if m.get("batch", 1) == batch), key=lambda m: m["layers"])
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


def _measured(df: pd.DataFrame, workload: str) -> pd.DataFrame:
    sub = df[df["workload"] == workload] if "workload" in df else df
    return sub[sub["status"] != "error"] if "status" in sub else sub


def _pyplot():
    return plotting.pyplot()


def _variant_sort(df: pd.DataFrame, *cols) -> pd.DataFrame:
    key = {v: i for i, v in enumerate(VARIANT_ORDER)}
    return df.sort_values(list(cols), key=lambda s: s.map(key).fillna(99) if s.name == "impl" else s)


# -- attention: cost against sequence length ------------------------------------------------------
def attention_scaling_data(df: pd.DataFrame, links=("lan", "wan100")) -> pd.DataFrame:
    """The points of the scaling figure: per config, variant and seq: bytes, rounds, est time."""
    cols = ["impl", "seq", "heads", "head_dim", "bytes", "rounds", "status"] + [f"est_s_{ln}" for ln in links]
    sub = _measured(df, "attention")
    require_columns(sub, cols, "attention scaling")
    if "features" in sub:  # one feature count per config: the most common one
        mode = sub.groupby(["heads", "head_dim"])["features"].agg(lambda s: s.mode().iloc[0])
        sub = sub[[f == mode[(h, d)] for h, d, f in zip(sub["heads"], sub["head_dim"], sub["features"])]]
    return _variant_sort(sub[cols], "heads", "head_dim", "impl", "seq").reset_index(drop=True)


#: (marker, marker size, line style) per series, largest first: overlapping series stay visible
SERIES_STYLES = (("o", 9, "-"), ("s", 7, "--"), ("^", 5, "-."), ("D", 3, ":"))


def plot_attention_scaling(df: pd.DataFrame, links=("lan", "wan100")):
    """Online bytes, rounds and estimated time per link against L (log-log), a row per config."""
    plt = _pyplot()
    data = attention_scaling_data(df, links)
    configs = list(data.groupby(["heads", "head_dim"]).groups)
    panels = [("bytes", "online bytes (all parties)"), ("rounds", "online rounds")]
    panels += [(f"est_s_{ln}", f"est. seconds, {ln}") for ln in links]
    fig, axes = plt.subplots(len(configs), len(panels), figsize=(3.9 * len(panels), 3.3 * len(configs)),
                             constrained_layout=True, squeeze=False)
    for row, (heads, head_dim) in enumerate(configs):
        cfg = data[(data["heads"] == heads) & (data["head_dim"] == head_dim)]
        for ax, (col, label) in zip(axes[row], panels):
            for i, (impl, g) in enumerate(cfg.groupby("impl", sort=False)):
                # each series its own marker, size and dash, so equal values (softmax-stock's bytes are
                # softmax-stable's) stay visible one over the other
                marker, size, dash = SERIES_STYLES[i % len(SERIES_STYLES)]
                ax.plot(g["seq"], g[col], marker=marker, markersize=size, linestyle=dash, label=impl)
            bad = cfg[cfg["status"] != "ok"]
            if len(bad):  # runs whose error exceeds the tolerance stay visible, crossed out
                ax.plot(bad["seq"], bad[col], "x", color="red", markersize=11, mew=2, linestyle="none",
                        label="error above tolerance")
            ax.set_xscale("log", base=2)
            ax.set_yscale("log")
            ax.set_xlabel("sequence length L")
            ax.set_ylabel(label)
            ax.set_title(f"{int(heads)} heads x {int(head_dim)}", fontsize=9)
            ax.grid(True, which="both", alpha=0.3)
        axes[row][0].legend(fontsize=8)
    fig.suptitle("Attention core in 2PC: softmax vs random-feature attention (log-log)")
    return fig


# -- attention: error against the number of random features ----------------------------------------
def rfa_error_data(df: pd.DataFrame) -> pd.DataFrame:
    cols = ["impl", "features", "seq", "heads", "head_dim", "max_abs_err", "approx_err"]
    sub = _measured(df, "attention")
    require_columns(sub, cols, "RFA error against features")
    sub = sub[sub["impl"].map(attn.is_rfa)]
    if sub.empty:
        return sub[cols]
    counts = sub.groupby(["seq", "heads", "head_dim"])["features"].nunique()
    seq, heads, head_dim = counts.idxmax()  # the config with the widest feature sweep
    sub = sub[(sub["seq"] == seq) & (sub["heads"] == heads) & (sub["head_dim"] == head_dim)]
    return _variant_sort(sub[cols], "impl", "features").reset_index(drop=True)


def plot_rfa_error(df: pd.DataFrame):
    """Error against softmax attention (approximation + MPC) and against the RFA twin (MPC only)."""
    plt = _pyplot()
    data = rfa_error_data(df)
    fig, ax = plt.subplots(figsize=(5.5, 3.8), constrained_layout=True)
    for impl, g in data.groupby("impl", sort=False):
        ax.plot(g["features"], g["approx_err"], marker="o", label=f"{impl}: vs softmax attention")
        ax.plot(g["features"], g["max_abs_err"], marker="s", linestyle="--", label=f"{impl}: vs RFA twin (MPC)")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("random features D")
    ax.set_ylabel("max abs error")
    if len(data):
        r = data.iloc[0]
        ax.set_title(f"L={int(r['seq'])}, {int(r['heads'])} heads x {int(r['head_dim'])}", fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return fig


# -- tables -----------------------------------------------------------------------------------------
def attention_table(df: pd.DataFrame, links=("lan", "wan200", "wan100")) -> pd.DataFrame:
    data = df[df["workload"] == "attention"]
    cols = ["impl", "seq", "heads", "head_dim", "features", "rounds", "bytes", "offline_bytes", "compute_s"]
    cols += [f"est_s_{ln}" for ln in links] + ["max_abs_err", "approx_err", "status"]
    require_columns(data, cols, "attention table")
    return _variant_sort(data[cols], "heads", "head_dim", "features", "impl", "seq").reset_index(drop=True)


def attention_ratio_table(df: pd.DataFrame, seq: int | None = None, baseline: str = attn.SOFTMAX,
                          links=("lan", "wan200", "wan100")) -> pd.DataFrame:
    """At the longest L (or ``seq``), each variant's cost and the baseline's cost divided by it."""
    data = attention_scaling_data(df, links)
    extra = _measured(df, "attention")
    seq = seq or int(data["seq"].max())
    data = data[data["seq"] == seq].copy()
    errs = extra.set_index(["impl", "seq", "heads", "head_dim"])[["max_abs_err", "approx_err"]]
    data = data.join(errs, on=["impl", "seq", "heads", "head_dim"])
    rows = []
    for (heads, head_dim), g in data.groupby(["heads", "head_dim"]):
        base = g[g["impl"] == baseline]
        for _, r in g.iterrows():
            row = {"heads": heads, "head_dim": head_dim, "seq": seq, "impl": r["impl"], "rounds": r["rounds"],
                   "MB": r["bytes"] / 1e6, **{f"est_s_{ln}": r[f"est_s_{ln}"] for ln in links},
                   "max_abs_err": r["max_abs_err"], "approx_err": r["approx_err"], "status": r["status"]}
            if len(base):
                b = base.iloc[0]
                row[f"bytes_x_vs_{baseline}"] = b["bytes"] / r["bytes"]
                row[f"rounds_x_vs_{baseline}"] = b["rounds"] / r["rounds"]
                row[f"lan_x_vs_{baseline}"] = b["est_s_lan"] / r["est_s_lan"] if "lan" in links else None
            rows.append(row)
    return _variant_sort(pd.DataFrame(rows), "heads", "head_dim", "impl") if rows else pd.DataFrame()


def trig_table(df: pd.DataFrame, links=("lan",)) -> pd.DataFrame:
    data = _measured(df, "trig")
    cols = ["impl", "w", "range", "size", "provider", "rounds", "bytes", "offline_bytes", "max_abs_err", "status"]
    require_columns(data, cols, "trig table")
    out = data[cols].sort_values(["impl", "w", "size"]).reset_index(drop=True)
    out["bytes_per_element"] = out["bytes"] / out["size"]
    return out


def gelu_table(df: pd.DataFrame) -> pd.DataFrame:
    """GeLU per element: the tanh form (with and without the clamp pretrained inputs need) against
    the one-round Fourier series, error against exact (erf) GeLU over the input range."""
    data = _measured(df, "gelu")
    cols = ["impl", "clamp", "range", "size", "provider", "rounds", "bytes", "offline_bytes", "max_abs_err", "status"]
    require_columns(data, cols, "gelu table")
    out = data[cols].sort_values(["impl", "clamp", "range"]).reset_index(drop=True)
    out["bytes_per_element"] = out["bytes"] / out["size"]
    out["offline_bytes_per_element"] = out["offline_bytes"] / out["size"]
    return out


def layernorm_table(df: pd.DataFrame) -> pd.DataFrame:
    """LayerNorm per token: CrypTen's inverse square root against the fast one, rounds, bytes per token
    and error against float64 LayerNorm over the variance range."""
    data = _measured(df, "layernorm")
    cols = ["impl", "low", "high", "rows", "hidden", "provider", "rounds", "bytes", "offline_bytes", "max_abs_err",
            "max_rel_err", "status"]
    require_columns(data, cols, "layernorm table")
    out = data[cols].sort_values(["impl", "low", "high"]).reset_index(drop=True)
    out["bytes_per_token"] = out["bytes"] / out["rows"]
    out["offline_bytes_per_token"] = out["offline_bytes"] / out["rows"]
    return out


def ops_table(df: pd.DataFrame) -> pd.DataFrame:
    data = _measured(df, "op")
    cols = ["op", "size", "provider", "rounds", "bytes", "offline_bytes", "max_abs_err", "status"]
    require_columns(data, cols, "ops table")
    return data[cols].sort_values(["op", "size"]).reset_index(drop=True)


# -- tuning steps: the paper's efficiency table and breakdown ------------------------------------
#: SecFwT (arXiv 2506.15307): RoBERTa-large, L = 512, LAN 3 Gbps / 0.8 ms, per step.
PAPER_STEP = {"SFT": (651.6, 970.7), "Prompt tuning": (882.1, 1116.2), "FoT (softmax)": (174.1, 205.4),
              "FoT (RFA)": (55.2, 56.6)}
METHOD_LABELS = {(SFT, "adam"): "SFT", (SFT, "sgd"): "SFT (SGD)", (PROMPT, None): "Prompt tuning",
                 (LORA, None): "LoRA", (FOT, "softmax"): "FoT (softmax)", (FOT, "rfa"): "FoT (RFA)"}


#: P-tuning v2's label (``prompt_depth=deep``); the paper's published prompt-tuning row sits beside both
DEEP_PROMPT_LABEL = "Deep prompt tuning (P-tuning v2)"
#: MPCAdam's settings of every record before they were parameters (labels omit them)
ADAM_DEFAULTS = {"adam_sqrt_iters": 10, "adam_recip_iters": 10, "adam_positive": False}


def method_label(row) -> str:
    if row["method"] == SFT:
        label = METHOD_LABELS[(SFT, row["optimizer"])]
    elif row["method"] == FOT:
        label = METHOD_LABELS[(FOT, "rfa" if attn.is_rfa(row["attention"]) else "softmax")]
    elif row["method"] == PROMPT and row.get("prompt_depth") == "deep":
        label = DEEP_PROMPT_LABEL
    else:
        label = METHOD_LABELS[(row["method"], None)]
    if adam_settings(row) not in (None, tuple(ADAM_DEFAULTS.values())):
        label += f" [Adam {adam_text(row)}]"
    return label + variant_suffix(row)


def adam_settings(row) -> tuple | None:
    """(sqrt steps, reciprocal steps, sign test skipped) of an Adam step record, else None."""
    if row.get("optimizer") != "adam" or row.get("method") == FOT:
        return None
    values = [row.get(k, ADAM_DEFAULTS[k]) for k in ADAM_DEFAULTS]
    values = [ADAM_DEFAULTS[k] if v is None or (isinstance(v, float) and pd.isna(v)) else v
              for k, v in zip(ADAM_DEFAULTS, values)]
    return int(values[0]), int(values[1]), bool(values[2])


def adam_text(row) -> str:
    """'10 sqrt + 10 recip Newton steps, sign test' for an Adam record."""
    sqrt, recip, positive = adam_settings(row)
    return f"{sqrt} sqrt + {recip} recip Newton steps, {'no sign test' if positive else 'sign test'}"


def step_table(df: pd.DataFrame, links=("lan", "wan200", "wan100")) -> pd.DataFrame:
    """Cost of one step per method and configuration.  A FoT step is one candidate's forward
    over the batch (a sequential generation divided by its population, exactly); the
    generation's cost is given beside it."""
    data = _measured(df, "step")
    cols = ["method", "optimizer", "attention", "model", "seq", "batch", "layers", "population", "fot_mode",
            "rounds", "bytes", "offline_bytes", "compute_s", "max_abs_err"] + [f"est_s_{ln}" for ln in links]
    require_columns(data, cols, "step table")
    rows = []
    for _, r in data.iterrows():
        per = r["population"] if r["method"] == FOT and r["fot_mode"] == "sequential" else 1
        row = {"method": method_label(r), "mode": r["fot_mode"] if r["method"] == FOT else "",
               "model": r["model"], "seq": r["seq"], "batch": r["batch"],
               "layers": r["layers"], "extrapolated": bool(r.get("extrapolated", False)),
               "rounds": r["rounds"] / per, "GB": r["bytes"] / per / 1e9, "offline_GB": r["offline_bytes"] / per / 1e9,
               "duplex_GB": _number(r.get("duplex_bytes")) / per / 1e9, "compute_s": r["compute_s"] / per,
               "adam": adam_text(r) if adam_settings(r) else ""}
        for ln in links:
            row[f"{ln}_s"] = r[f"est_s_{ln}"] / per
        if r["method"] == FOT:
            row["generation"] = f"{r['population']} x {r['fot_mode']}: {r['bytes'] / 1e9:.3g} GB, " \
                                f"{r['est_s_lan']:.4g} s lan"
        row["max_abs_err"] = r["max_abs_err"]
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["model", "seq", "method"]).reset_index(drop=True)


def _number(value) -> float:
    """A float, NaN for a missing value (a counter that older records lack)."""
    return float("nan") if value is None or (isinstance(value, float) and pd.isna(value)) else float(value)




def fot_modes_table(df: pd.DataFrame, links=("lan", "wan200", "wan100")) -> pd.DataFrame:
    """One CMA-ES generation run as one batched forward or one forward per candidate: the cost of
    each and, per link, the cheaper one."""
    data = _measured(df, "step")
    data = data[data["method"] == FOT] if "method" in data else data
    if data.empty:
        return pd.DataFrame()
    keys = ["model", "seq", "batch", "attention", "population", "layers"] + [k for k in VARIANT_PARAMS if k in data]
    rows = []
    for cfg, g in data.groupby(keys, dropna=False):
        modes = g.set_index("fot_mode")
        if not {"batched", "sequential"} <= set(modes.index):
            continue
        row = dict(zip(keys, cfg))
        for mode in ("batched", "sequential"):
            row[f"{mode}_rounds"] = modes.loc[mode, "rounds"]
            row[f"{mode}_GB"] = modes.loc[mode, "bytes"] / 1e9
            for ln in links:
                row[f"{mode}_{ln}_s"] = modes.loc[mode, f"est_s_{ln}"]
        for ln in links:
            row[f"cheaper_{ln}"] = min(("batched", "sequential"), key=lambda m: row[f"{m}_{ln}_s"])
        rows.append(row)
    return pd.DataFrame(rows)


#: the SFT row the paper table's ratios divide by: Adam's cheapest setting whose update error against
#: plaintext Adam (given the same gradient) is within this much of the most accurate setting measured.
#: Not within 1% of plaintext itself: 16-bit fixed point alone puts every setting's error near 5%
#: (updates of at most lr = 1e-3 in steps of 2^-16; see the `adam` table)
ADAM_TOLERANCE = 0.01
PAPER_ORDER = ["SFT", "SFT (SGD)", "Prompt tuning", DEEP_PROMPT_LABEL, "LoRA", "FoT (softmax)", "FoT (RFA)"]


def paper_table(df: pd.DataFrame, model: str = "large", seq: int = 512) -> pd.DataFrame:
    """The paper's efficiency table (RoBERTa-large, L = 512) with this suite's figures beside it:
    online and offline GB, network-only seconds under half and full duplex, the estimate with this
    machine's compute, the published figures and the transfer time their GB imply, and every
    ratio to SFT (SFT at Adam's chosen setting, see :func:`adam_choice`)."""
    table = step_table(df)
    table = table[(table["model"] == model) & (table["seq"] == seq)]
    table = table[table["mode"] != "batched"]  # FoT per candidate: from the one-by-one generation
    table = table[~table["method"].map(_amortised)]  # they pay part of their cost once: see `amortisation`
    if table.empty:
        return table
    # Adam methods other than SFT at the chosen setting only, where it was measured (SFT keeps every
    # setting: its sensitivity)
    chosen = adam_text(dict(zip(ADAM_DEFAULTS, adam_choice(df)), method=SFT, optimizer="adam"))
    base = table["method"].str.replace(r" \[Adam [^\]]*\]", "", regex=True)
    at_choice = set(base[table["adam"] == chosen])
    table = table[~((table["adam"] != "") & (table["adam"] != chosen) & (base != "SFT") & base.isin(at_choice))]
    lan = LINK_PROFILES["lan"]
    rows = []
    for _, r in table.iterrows():
        published = PAPER_STEP.get(_paper_key(r["method"]), (None, None))
        paper_s, paper_gb = published
        row = {"method": r["method"], "adam": r["adam"], "GB": r["GB"], "offline_GB": r["offline_GB"],
               "rounds": r["rounds"], "compute_s": r["compute_s"],
               # the network alone (rounds x latency + carried bytes / bandwidth), no compute
               "lan_net_half_s": network_seconds(r["rounds"], r["GB"] * 1e9, lan, duplex="half"),
               "lan_net_full_s": network_seconds(r["rounds"], r["GB"] * 1e9, lan, r["duplex_GB"] * 1e9, "full"),
               "lan_s": r["lan_s"], "wan200_s": r["wan200_s"], "wan100_s": r["wan100_s"],
               "paper_lan_s": paper_s, "paper_GB": paper_gb,
               # the time the published bytes alone need on the published 3 Gbps link: all on one pipe
               # (half duplex), or split evenly over both directions (full duplex: CrypTen's openings are
               # symmetric)
               "paper_GB_half_s": paper_gb * 1e9 * 8 / lan.bandwidth_bps if paper_gb else None,
               "paper_GB_full_s": paper_gb * 1e9 * 8 / 2 / lan.bandwidth_bps if paper_gb else None}
        rows.append(row)
    out = pd.DataFrame(rows)
    base = out[out["method"] == sft_baseline_label(df)]
    if len(base):
        b = base.iloc[0]
        for col in ("GB", "offline_GB", "lan_net_half_s", "lan_net_full_s", "lan_s", "wan100_s"):
            out[f"{col}_SFT_over"] = b[col] / out[col]
        out["paper_s_SFT_over"] = [PAPER_STEP["SFT"][0] / v if v else None for v in out["paper_lan_s"]]
        out["paper_GB_SFT_over"] = [PAPER_STEP["SFT"][1] / v if v else None for v in out["paper_GB"]]
    rank = {m: i for i, m in enumerate(PAPER_ORDER)}
    return out.sort_values("method", key=lambda s: s.map(
        lambda m: next((rank[o] + 0.5 * (m != o) for o in sorted(PAPER_ORDER, key=len, reverse=True)
                        if m.startswith(o)), len(PAPER_ORDER)))).reset_index(drop=True)


def _amortised(label: str) -> bool:
    """Whether a method label is of a run that pays part of its cost once per run."""
    return any(f" {noun}" in label for name, (_, noun) in VARIANT_PARAMS.items() if name in AMORTISING_PARAMS)


def amortisation_table(df: pd.DataFrame, links=("lan", "wan100")) -> pd.DataFrame:
    """Per FoT candidate (sequential generations divided by their population): online bytes and
    rounds with fresh masks and recomputed inputs (the paper's) and with persistent weight masks and
    cached fixed inputs, the one-time cost of the latter, and the candidates after which it is
    cheaper in total (bytes; network seconds per link)."""
    data = _measured(df, "step")
    if data.empty or "weight_masks" not in data:
        return pd.DataFrame()
    data = data[(data["method"] == FOT) & (data["fot_mode"] == "sequential")]
    keys = ["model", "seq", "batch", "attention"] + [k for k in ("prompt_tokens", "task") if k in data] + [k for k in VARIANT_PARAMS
                                                                       if k in data and k not in AMORTISING_PARAMS]
    rows = []
    for cfg, g in data.groupby(keys, dropna=False):
        masks = g["weight_masks"].fillna("fresh")
        inputs = g["fixed_inputs"].fillna("recomputed") if "fixed_inputs" in g else pd.Series("recomputed", g.index)
        fresh = g[(masks == "fresh") & (inputs == "recomputed")]
        amortised = g[(masks == "persistent") & (inputs == "cached")]
        if fresh.empty or amortised.empty:
            continue
        f, a = fresh.iloc[-1], amortised.iloc[-1]
        n_f, n_a = f["population"], a["population"]
        row = {"method": method_label(f), "model": cfg[0], "seq": cfg[1], "batch": cfg[2],
               "fresh_GB": f["bytes"] / n_f / 1e9, "amortised_GB": a["bytes"] / n_a / 1e9,
               "one_time_GB": a["one_time_bytes"] / 1e9,
               "fresh_rounds": f["rounds"] / n_f, "amortised_rounds": a["rounds"] / n_a,
               "one_time_rounds": a["one_time_rounds"],
               "saved_GB": (f["bytes"] / n_f - a["bytes"] / n_a) / 1e9}
        row["break_even_GB"] = row["one_time_GB"] / row["saved_GB"] if row["saved_GB"] > 0 else float("inf")
        for name in links:
            link = LINK_PROFILES[name]
            per_f = network_seconds(f["rounds"] / n_f, f["bytes"] / n_f, link)
            per_a = network_seconds(a["rounds"] / n_a, a["bytes"] / n_a, link)
            once = network_seconds(a["one_time_rounds"], a["one_time_bytes"], link)
            row[f"fresh_{name}_net_s"], row[f"amortised_{name}_net_s"] = per_f, per_a
            row[f"one_time_{name}_net_s"] = once
            row[f"break_even_{name}"] = once / (per_f - per_a) if per_f > per_a else float("inf")
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["model", "seq", "fresh_GB"], ascending=[True, False, False]) \
        .reset_index(drop=True) if rows else pd.DataFrame()


def amortisation_lines(table: pd.DataFrame) -> list[str]:
    """Sentences under the amortisation table: what a candidate saves at each shape."""
    if table.empty:
        return []
    lines = ["### Beyond the paper: what forward-only tuning pays once per run", "",
             "A FoT run evaluates every candidate on the same frozen weights and the same training sentences. "
             "With persistent Beaver masks (`weight_masks=persistent`, `secfwt.mpc.persistent`) each weight's "
             "W - B is opened once per run, and with `fixed_inputs=cached` the training rows' token embeddings "
             "are looked up once; each candidate then opens only its own masked activations, with fresh masks. "
             "Per candidate (exact counts; `one_time` is paid once per run; `break_even_*`: candidates after "
             "which the amortised run is cheaper in total; LAN and WAN-100 network seconds):", "",
             markdown(table), ""]
    for _, r in table.iterrows():
        lines.append(f"- **{r['method']}**, {r['model']}, L = {int(r['seq'])}, batch {int(r['batch'])}: "
                     f"{r['fresh_GB']:.3g} GB -> {r['amortised_GB']:.3g} GB per candidate ({r['saved_GB']:.3g} GB, "
                     f"{100 * r['saved_GB'] / r['fresh_GB']:.0f}% saved; {r['fresh_rounds']:,.0f} -> "
                     f"{r['amortised_rounds']:,.0f} rounds), for {r['one_time_GB']:.3g} GB and "
                     f"{r['one_time_rounds']:.0f} rounds once per run; break-even after {r['break_even_GB']:.2f} "
                     f"candidates in bytes and {r['break_even_wan100']:.2f} in WAN-100 network time.")
    if len(table) and (table["break_even_GB"] - 1).abs().max() < 1e-9:
        lines.append("- The one-time bytes equal exactly what each candidate stops paying (the same openings, made "
                     "once), so an amortised run costs what a fresh one does after one candidate and less from the "
                     "second on; the one-time part adds 2 rounds (the W - B opening, the cached lookup) against 1 "
                     "round saved per candidate.")
    return lines + [""]


def _paper_key(label: str) -> str:
    """The published row a label compares with: its base method without settings or variants
    (both prompt-tuning variants sit beside the paper's one prompt-tuning figure)."""
    for base in sorted(PAPER_STEP, key=len, reverse=True):
        if label == base or label.startswith(base + " ["):
            return base
    return "Prompt tuning" if label == DEEP_PROMPT_LABEL else label


def block_table(df: pd.DataFrame, model: str = "large", seq: int = 512) -> pd.DataFrame:
    """One encoder block of a FoT candidate's forward at the paper's shape, per variant: rounds, online
    and offline GB, network-only LAN seconds (half and full duplex), and its share of the candidate."""
    data = _measured(df, "step")
    if data.empty or "block_bytes" not in data:
        return pd.DataFrame()
    data = data[(data["method"] == FOT) & (data["model"] == model) & (data["seq"] == seq)
                & (data["fot_mode"] == "sequential") & data["block_bytes"].notna()]
    lan = LINK_PROFILES["lan"]
    rows = []
    for _, r in data.iterrows():
        n = r["population"]  # a sequential generation runs every block once per candidate
        rounds, nbytes, duplex = r["block_rounds"] / n, r["block_bytes"] / n, _number(r.get("block_duplex_bytes")) / n
        rows.append({"method": method_label(r), "block_rounds": rounds, "block_GB": nbytes / 1e9,
                     "block_offline_GB": r["block_offline_bytes"] / n / 1e9,
                     "block_lan_net_half_s": network_seconds(rounds, nbytes, lan, duplex="half"),
                     "block_lan_net_full_s": network_seconds(rounds, nbytes, lan, duplex, "full"),
                     "blocks_share_of_candidate_GB": r["block_bytes"] * r["layers"] / r["bytes"]})
    return pd.DataFrame(rows).sort_values("block_GB", ascending=False).reset_index(drop=True) if rows \
        else pd.DataFrame()


def adam_table(df: pd.DataFrame) -> pd.DataFrame:
    """Adam's MPC settings against plaintext Adam: per SFT Adam record, the settings, what the
    optimizer phase costs, its own error (``optimizer_rel_err``: relative L2 of the whole update
    against plaintext Adam given the same MPC gradient; measured where the step is small enough to
    compare every tensor) and the whole step's (``update_all_rel_err``: against plaintext autograd
    + Adam)."""
    data = _measured(df, "step")
    if data.empty or "optimizer" not in data:
        return pd.DataFrame()
    data = data[(data["method"] == SFT) & (data["optimizer"] == "adam")]
    rows = []
    choice = adam_choice(df)
    for _, r in data.iterrows():
        settings = adam_settings(r)
        rows.append({"model": r["model"], "layers": r["layers"], "seq": r["seq"], "batch": r["batch"],
                     "sqrt_steps": settings[0], "recip_steps": settings[1], "sign_test": not settings[2],
                     "optimizer_rounds": r.get("optimizer_rounds"), "optimizer_GB": _number(r.get("optimizer_bytes")) / 1e9,
                     "step_GB": r["bytes"] / 1e9, "step_rounds": r["rounds"],
                     "optimizer_rel_err": r.get("optimizer_rel_err"),
                     "optimizer_gross_errors": r.get("optimizer_gross_errors"),
                     "optimizer_elements": r.get("optimizer_elements"), "chosen": settings == choice})
    if not rows:  # steps of other methods only
        return pd.DataFrame()
    return pd.DataFrame(rows).sort_values(["model", "layers", "seq", "sqrt_steps", "recip_steps", "sign_test"]) \
        .reset_index(drop=True)


def adam_choice(df: pd.DataFrame) -> tuple:
    """Adam's cheapest measured setting (fewest optimizer bytes) whose ``optimizer_rel_err`` is within
    ADAM_TOLERANCE of the most accurate setting's, on the same shape; the defaults when no record
    measured the error."""
    data = _measured(df, "step")
    if data.empty or "optimizer_rel_err" not in data or "optimizer_bytes" not in data:
        return tuple(ADAM_DEFAULTS.values())
    data = data[(data["method"] == SFT) & (data["optimizer"] == "adam") & data["optimizer_rel_err"].notna()]
    if data.empty:
        return tuple(ADAM_DEFAULTS.values())
    # settings compare on one shape: the one with the most settings measured (the sensitivity sweep)
    shape = ["model", "layers", "seq", "batch"]
    widest = data.groupby(shape).size().idxmax()
    data = data[(data[shape] == pd.Series(widest, index=shape)).all(axis=1)]
    ok = data[data["optimizer_rel_err"] <= data["optimizer_rel_err"].min() + ADAM_TOLERANCE]
    return adam_settings(ok.loc[ok["optimizer_bytes"].idxmin()])


def sft_baseline_label(df: pd.DataFrame) -> str:
    """The paper table's SFT row: SFT with Adam at :func:`adam_choice`'s setting."""
    row = dict(zip(ADAM_DEFAULTS, adam_choice(df)), method=SFT, optimizer="adam")
    return method_label(row)


def _phase_seconds(row, phase: str, link) -> float:
    return estimate_seconds(row.get(f"{phase}_compute_s", 0) or 0, row.get(f"{phase}_rounds", 0) or 0,
                            row.get(f"{phase}_bytes", 0) or 0, link)


def breakdown_data(df: pd.DataFrame, link: str = "lan") -> pd.DataFrame:
    """Share of time (under ``link``) and bytes per phase, and the softmax share of the forward,
    per method and configuration (the paper's Figure: backward + optimizer ~73% of SFT's time)."""
    data = _measured(df, "step")
    require_columns(data, ["method", "model", "seq", "forward_bytes"], "breakdown")
    lk = LINK_PROFILES[link]
    rows = []
    for _, r in data.iterrows():
        phases = [p for p in ("forward", "loss", "backward", "optimizer", "open") if pd.notna(r.get(f"{p}_bytes"))]
        secs = {p: _phase_seconds(r, p, lk) for p in phases}
        total_s, total_b = sum(secs.values()), sum(r[f"{p}_bytes"] for p in phases)
        row = {"method": method_label(r), "model": r["model"], "seq": r["seq"]}
        for p in phases:
            row[f"{p}_time_share"] = secs[p] / total_s if total_s else None
            row[f"{p}_bytes_share"] = r[f"{p}_bytes"] / total_b if total_b else None
        if pd.notna(r.get("fwd_softmax_bytes")):
            fwd_s = secs["forward"]
            soft_s = estimate_seconds(r["fwd_softmax_compute_s"], r["fwd_softmax_rounds"], r["fwd_softmax_bytes"], lk)
            row["softmax_share_of_forward_time"] = soft_s / fwd_s if fwd_s else None
            row["softmax_share_of_forward_bytes"] = r["fwd_softmax_bytes"] / r["forward_bytes"]
        if pd.notna(r.get("fwd_gelu_bytes")):
            row["gelu_share_of_forward_bytes"] = r["fwd_gelu_bytes"] / r["forward_bytes"]
        rows.append(row)
    return pd.DataFrame(rows)


def _largest_config(data: pd.DataFrame, size_col: str):
    """The (model, seq) whose steps are the most expensive: the headline configuration."""
    totals = data.groupby(["model", "seq"])[size_col].sum()
    return totals.idxmax()


def plot_breakdown(df: pd.DataFrame, link: str = "lan", model: str | None = None, seq: int | None = None):
    """Stacked shares of time (under ``link``) and bytes per phase, one bar per method."""
    plt = _pyplot()
    data = breakdown_data(df, link)
    if model is None or seq is None:
        model, seq = _largest_config(step_table(df), "GB")
    data = data[(data["model"] == model) & (data["seq"] == seq)].reset_index(drop=True)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True)
    colours = {"forward": "#4c72b0", "loss": "#999999", "backward": "#dd8452", "optimizer": "#c44e52", "open": "#55a868"}
    for ax, kind in zip(axes, ("time", "bytes")):
        bottom = [0.0] * len(data)
        for phase, colour in colours.items():
            col = f"{phase}_{kind}_share"
            if col not in data:
                continue
            vals = data[col].fillna(0).tolist()
            ax.bar(data["method"], vals, bottom=bottom, color=colour, label=phase)
            bottom = [b + v for b, v in zip(bottom, vals)]
        ax.set_ylabel(f"share of {'estimated ' + link + ' time' if kind == 'time' else 'online bytes'}")
        ax.set_ylim(0, 1)
        ax.tick_params(axis="x", rotation=20)
    axes[0].legend(fontsize=8, loc="lower left")
    fig.suptitle(f"Where one tuning step pays: {model}, L={int(seq)}")
    return fig


def plot_step_costs(df: pd.DataFrame, model: str | None = None, seq: int | None = None,
                    links=("lan", "wan200", "wan100")):
    """Estimated seconds per step under each link and GB per step, per method (log scale)."""
    plt = _pyplot()
    table = step_table(df, links)
    if model is None or seq is None:
        model, seq = _largest_config(table, "GB")
    table = table[(table["model"] == model) & (table["seq"] == seq)].reset_index(drop=True)
    table["method"] = [m + (f"\n{mode}" if mode else "") for m, mode in zip(table["method"], table["mode"])]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True)
    width = 0.8 / len(links)
    for i, ln in enumerate(links):
        axes[0].bar([x + i * width for x in range(len(table))], table[f"{ln}_s"], width=width, label=ln)
    axes[0].set_xticks([x + width * (len(links) - 1) / 2 for x in range(len(table))], table["method"], rotation=20)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("estimated seconds per step")
    axes[0].legend(fontsize=8)
    axes[1].bar(table["method"], table["GB"], color="#8172b3")
    axes[1].set_yscale("log")
    axes[1].set_ylabel("online GB per step")
    axes[1].tick_params(axis="x", rotation=20)
    fig.suptitle(f"One tuning step in 2PC: {model}, L={int(seq)}")
    return fig


def plot_nonlinear_costs(df: pd.DataFrame):
    """Left: GeLU per element (online bytes, rounds) by variant.  Right: one FoT candidate at
    RoBERTa-large, L = 512, with the paper's nonlinearities and beyond them, against the paper's GB."""
    plt = _pyplot()
    gelu = gelu_table(df)
    gelu = gelu.assign(label=[f"{i}{' clamped' if c else ''}\n|x|<={r:g}" for i, c, r in
                              zip(gelu["impl"], gelu["clamp"], gelu["range"])])
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), constrained_layout=True)
    ax = axes[0]
    ax.bar(gelu["label"], gelu["bytes_per_element"], color="#4c72b0")
    for x, (b, r) in enumerate(zip(gelu["bytes_per_element"], gelu["rounds"])):
        ax.annotate(f"{r:.0f} rounds", (x, b), ha="center", va="bottom", fontsize=8)
    ax.set_ylabel("online bytes per element")
    ax.set_title("GeLU", fontsize=10)
    ax = axes[1]
    paper = paper_table(df) if (df["workload"] == "step").any() else pd.DataFrame()
    fot = paper[paper["method"].str.startswith("FoT")] if len(paper) else paper
    if len(fot):
        ax.bar(fot["method"].str.replace(" + ", "\n+ ", regex=False), fot["GB"], color="#8172b3", label="this suite")
        for x, published in enumerate(fot["paper_GB"]):
            if pd.notna(published):
                ax.plot([x - 0.4, x + 0.4], [published] * 2, color="#c44e52", lw=2,
                        label="published" if x == 0 else None)
        ax.set_ylabel("online GB per candidate")
        ax.legend(fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
    else:
        ax.text(0.5, 0.5, "no RoBERTa-large L = 512 records:\nmake bench PROFILE=paper", ha="center",
                transform=ax.transAxes)
    ax.set_title("one FoT candidate, RoBERTa-large, L = 512", fontsize=10)
    return fig


# -- writing -----------------------------------------------------------------------------------------
FIGURE, TABLE = "figure", "table"


@dataclass(frozen=True)
class Artifact:
    """One figure or table of the report: ``make`` turns the frame of records into it, when records of
    ``workload`` exist; ``description`` is its line in reports/README.md."""

    name: str
    kind: str  # FIGURE or TABLE
    workload: str
    make: Callable[[pd.DataFrame], object]
    description: str


#: every figure and table made from the loopback records, in README order (the cost-to-accuracy
#: analysis, :mod:`secfwt.accuracy`, and the time model, :mod:`secfwt.timing`, list their own)
ARTIFACTS = (
    Artifact("attention_scaling", FIGURE, "attention", plot_attention_scaling,
             "Online bytes, rounds and estimated LAN / WAN-100 time of the attention core against the sequence"
             " length, log-log: softmax's O(L^2) against RFA's O(L). Red crosses mark runs whose error against"
             " the plaintext twin exceeds the tolerance (CrypTen's stock softmax from a few hundred tokens)."),
    Artifact("rfa_error_vs_features", FIGURE, "attention", plot_rfa_error,
             "RFA's error against exact softmax attention (approximation + MPC) and against its own plaintext "
             "twin (MPC only) as the number of random features D grows."),
    Artifact("step_costs", FIGURE, "step", plot_step_costs,
             "Estimated seconds per tuning step under each link and online GB per step, per method."),
    Artifact("step_breakdown", FIGURE, "step", plot_breakdown,
             "Share of estimated LAN time and of online bytes per phase (forward, loss, backward, optimizer, "
             "opening to the data owner) of one step, per method."),
    Artifact("nonlinear_costs", FIGURE, "gelu", plot_nonlinear_costs,
             "GeLU per element (tanh form, clamped as pretrained inputs need, against the one-round Fourier "
             "series) and one FoT candidate at RoBERTa-large, L = 512, with the paper's nonlinearities and "
             "with the Fourier GeLU and fused QKV; red: the published GB."),
    Artifact("attention", TABLE, "attention", attention_table,
             "Every attention record: counts, estimated seconds per link, both errors, status."),
    Artifact("attention_ratios", TABLE, "attention", attention_ratio_table,
             "At the longest sequence measured: each variant's cost and softmax-stable's cost divided by it "
             "(bytes, rounds, LAN time)."),
    Artifact("trig", TABLE, "trig", trig_table,
             "The one-round cosine/sine protocol against CrypTen's cossin: rounds, bytes per element, error."),
    Artifact("gelu", TABLE, "gelu", gelu_table,
             "GeLU per element: CrypTen-style tanh form (26 rounds; clamped, as pretrained inputs need, 35) "
             "against the Fourier series from one trig opening (2 rounds), bytes per element online and "
             "offline, error against exact erf GeLU over U(-range, range)."),
    Artifact("layernorm", TABLE, "layernorm", layernorm_table,
             "LayerNorm per token: CrypTen's inverse square root (exp start with 8 squarings, 3 Newton steps "
             "of 3 rounds: 20 rounds per LayerNorm) against the fast one (6 squarings, Newton steps of 2 "
             "rounds: 15), bytes per token, and the error against float64 LayerNorm over the variance range "
             "the public pre-scale keeps LayerNorm in."),
    Artifact("ops", TABLE, "op", ops_table,
             "Single CrypTen operations (meter cross-checks)."),
    Artifact("steps", TABLE, "step", step_table,
             "One step of each method: rounds, GB, seconds per link (FoT: one candidate's forward; the "
             "generation's cost beside it)."),
    Artifact("step_breakdown", TABLE, "step", breakdown_data,
             "The breakdown behind the figure, with the softmax and GeLU shares of the forward."),
    Artifact("paper_table", TABLE, "step", paper_table,
             "The paper's efficiency table (RoBERTa-large, L = 512, LAN) with this suite's measurements beside"
             " the published figures, and the same steps under WAN links (not published)."),
    Artifact("adam", TABLE, "step", adam_table,
             "Adam's MPC settings (Newton steps of the square root and the reciprocal, the reciprocal's sign "
             "test): what the optimizer costs, its error against plaintext Adam given the same gradient "
             "(relative L2 over the elements it did not fail on) and the elements it failed on (off by more "
             "than 10 learning rates: CrypTen's local truncation); `chosen` marks the cheapest setting within "
             "1 point of the most accurate one, which the paper table's SFT row uses."),
    Artifact("paper_block", TABLE, "step", block_table,
             "One encoder block of a FoT candidate at RoBERTa-large, L = 512, per variant (the difference of "
             "the two measured depths: exact): rounds, online and offline GB, LAN network seconds under half "
             "and full duplex, and the blocks' share of the candidate's bytes."),
    Artifact("amortisation", TABLE, "step", amortisation_table,
             "Per FoT candidate at RoBERTa-large, L = 512, and at a few-shot shape (MiniLM, L = 64, the "
             "16-shot training set as one batch): online GB and rounds with the paper's fresh masks and with "
             "persistent weight masks and cached fixed inputs, what the latter pays once per run, and the "
             "number of candidates after which it is cheaper in total."),
    Artifact("fot_modes", TABLE, "step", fot_modes_table,
             "One CMA-ES generation as one batched forward against one forward per candidate, and the cheaper "
             "of the two under each link."),
)


def descriptions() -> dict[tuple[str, str], str]:
    """(kind, name) -> description of every artifact the report can write."""
    from . import accuracy, timing

    return {**{(a.kind, a.name): a.description for a in ARTIFACTS}, **accuracy.ARTIFACT_DESCRIPTIONS,
            (FIGURE, "time_model"): timing.FIGURE_DESCRIPTION, (TABLE, "time_model"): timing.DESCRIPTION}


def provenance(records: list[dict]) -> pd.DataFrame:
    """Where the numbers come from: per workload and provider, the machine, versions and dates."""
    rows = {}
    for r in records:
        env = r.get("env") or {}
        key = (r["workload"], r["provider"])
        row = rows.setdefault(key, {"workload": r["workload"], "provider": r["provider"],
                                    "security": r.get("security"), "records": 0, "cpu": env.get("cpu"),
                                    "cores": env.get("cores"), "torch": env.get("torch"),
                                    "crypten": env.get("crypten"), "git_sha": (env.get("git_sha") or "")[:10],
                                    "first": env.get("date"), "last": env.get("date")})
        row["records"] += 1
        row["first"] = min(filter(None, [row["first"], env.get("date")]), default=None)
        row["last"] = max(filter(None, [row["last"], env.get("date")]), default=None)
    return pd.DataFrame(list(rows.values()))


PAPER_COST_COLUMNS = ("method", "adam", "GB", "offline_GB", "rounds", "compute_s", "lan_net_half_s", "lan_net_full_s",
                      "lan_s", "wan200_s", "wan100_s", "paper_GB", "paper_lan_s", "paper_GB_half_s", "paper_GB_full_s")
#: a published GB figure counts as reproduced within this relative difference
REPRODUCED_WITHIN = 0.10


def clamp_cost_per_element(df: pd.DataFrame) -> float | None:
    """Online bytes per element that the tanh GeLU's clamp adds (what pretrained FFN inputs switch
    on), from the `gelu` records; None without both measurements."""
    data = _measured(df, "gelu")
    if data.empty or "impl" not in data:
        return None
    tanh = data[data["impl"] == "tanh"]
    per = {bool(c): (g["bytes"] / g["size"]).iloc[0] for c, g in tanh.groupby("clamp")}
    return per[True] - per[False] if {True, False} <= set(per) else None


def paper_reproduction_lines(paper: pd.DataFrame, sft_label: str, clamp_bytes: float | None = None,
                             ffn_elements: int = 24 * 512 * 4096) -> list[str]:
    """In plain words: which published figures the suite reproduces, which it cannot, and why.
    ``clamp_bytes``: what the tanh GeLU's clamp adds per FFN element (``ffn_elements`` per forward
    at RoBERTa-large, L = 512) when pretrained weights switch it on."""
    def gb(label):
        row = paper[paper["method"] == label]
        return None if row.empty else row.iloc[0]

    def published_row(base):  # SFT at the chosen setting; other methods their own (not deep) row
        if base == "SFT":
            return gb(sft_label)
        rows = paper[(paper["method"].map(_paper_key) == base) & ~paper["method"].str.startswith(DEEP_PROMPT_LABEL)]
        return None if rows.empty else rows.iloc[0]

    lines = ["### What the suite reproduces, and what it cannot", ""]
    for base, (_, paper_gb) in PAPER_STEP.items():
        label = sft_label if base == "SFT" else base
        r = published_row(base)
        if r is None:
            continue
        diff = r["GB"] / paper_gb - 1
        verdict = "reproduced" if abs(diff) <= REPRODUCED_WITHIN else "not reproduced"
        text = f"- **{base}**: {r['GB']:,.1f} GB online against the published {paper_gb:,.1f} GB ({diff:+.0%}): " \
               f"{verdict}."
        if base == "SFT":
            default = gb("SFT")
            text += f" SFT's bytes are mostly Adam's, so they depend on its MPC settings ({r['adam']})"
            if default is not None and label != "SFT":
                text += f"; with CrypTen's sign test and 10 + 10 Newton steps, as earlier reports, " \
                        f"{default['GB']:,.1f} GB"
            text += "."
        if base == "Prompt tuning":
            deep = paper[paper["method"].str.startswith(DEEP_PROMPT_LABEL)]
            deep = None if deep.empty else deep.iloc[0]
            if deep is not None:
                text += f" P-tuning v2 (prompts before every block, full backward) costs {deep['GB']:,.1f} GB: " \
                        "neither variant comes near. The published figure exceeds the paper's own SFT " \
                        f"({PAPER_STEP['SFT'][1]:,.1f} GB), which only a computation at least as large as SFT's " \
                        "explains, such as Adam over every weight or a longer sequence; the paper does not say."
        lines.append(text)
    rfa = gb("FoT (RFA)")
    if rfa is not None and clamp_bytes:
        extra = clamp_bytes * ffn_elements / 1e9
        lines.append(f"- **Weights.** The paper rows use seeded-random RoBERTa-large weights, whose FFN inputs never "
                     f"switch on the tanh GeLU's clamp. Pretrained weights do (MiniLM's do; tested): the clamp adds "
                     f"{clamp_bytes:,.0f} B per FFN element (the `gelu` table), {extra:.1f} GB per forward at "
                     f"{ffn_elements:,} FFN elements, so a pretrained RoBERTa-large FoT+RFA candidate would cost "
                     f"about {rfa['GB'] + extra:.1f} GB (arithmetic on measured counts, not a run). The match with "
                     "56.6 GB rests on random weights. The Fourier GeLU costs the same for any weights (tested).")
    if rfa is not None:
        lines.append(f"- **Times** are not reproducible from the published bytes: 56.6 GB alone need "
                     f"{56.6e9 * 8 / 3e9:.1f} s on 3 Gbps half duplex and {56.6e9 * 8 / 2 / 3e9:.1f} s full duplex, "
                     "more than the 55.2 s published for FoT+RFA; the paper's link or counting convention differs. "
                     f"Ours are estimates: {rfa['lan_net_half_s']:.1f} s (half) or {rfa['lan_net_full_s']:.1f} s "
                     "(full) of network time per FoT+RFA candidate, plus this machine's compute.")
    return lines + [""]


def markdown(table: pd.DataFrame) -> str:
    """A markdown table with readable numbers: thousands separated, no 1.076e+04 notation."""
    def fmt(v):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or pd.isna(v):
            return v
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"
    return table.map(fmt).to_markdown(index=False, disable_numparse=True)


def depth_error_lines(df: pd.DataFrame) -> list[str]:
    """The label logits' MPC error at a pretrained model's full depth on real sentences, beside the
    error that extrapolated records carry (their deepest measured run's)."""
    data = _measured(df, "step")
    if data.empty or "task" not in data:
        return []
    full = data[(data["model"] == "minilm") & (data["layers"] == -1) & (data["task"] != "synthetic")
                & ~data["extrapolated"].astype(bool)]
    if full.empty:
        return []
    lines = ["### The MPC error at full depth", "",
             "Extrapolated records measure 1 or 2 blocks and carry the error of their deepest measured run "
             "(`checked_layers` in the records frame). At a pretrained model's full depth on real sentences "
             "(MiniLM, all 6 blocks, FoT forwards of 8 SST-2 training sentences x 2 candidates), the largest "
             "difference between an MPC label logit and the plaintext twin's:", ""]
    for _, r in full.sort_values("attention").iterrows():
        label = method_label(r)
        shallow = data[(data["model"] == "minilm") & data["extrapolated"].astype(bool) & (data["method"] == FOT)
                       & (data["attention"] == r["attention"]) & (data["gelu"] == r["gelu"])
                       & (data["qkv"] == r["qkv"]) & (data["task"] == r["task"])]
        text = f"- {label}: {r['max_abs_err']:.2e} at L = {int(r['seq'])}"
        if r["status"] == "inaccurate":
            text += " (above the step's 5e-2 tolerance: the record says `inaccurate`)"
        if len(shallow):
            s0 = shallow.iloc[0]
            text += f" (the extrapolated price record's, measured at {int(s0['checked_layers'])} block(s): " \
                    f"{s0['max_abs_err']:.2e})"
        lines.append(text + ".")
    lines.append("")
    lines.append("Logits are scaled cosine similarities (|logit| <= 20); the sentence head's decisions are what "
                 "tuning uses, and the 2PC parity runs show identical CMA-ES rankings (see below).")
    return lines + [""]


def beyond_paper_lines(paper: pd.DataFrame) -> list[str]:
    """The paper's FoT rows beside the same rows with each set of beyond-the-paper variants (Fourier
    GeLU, fused QKV, fast inverse square root), per candidate at the paper's shape, against the
    published 56.6 GB."""
    lines = []
    for base in ("FoT (RFA)", "FoT (softmax)"):
        old = paper[paper["method"] == base]
        new = paper[paper["method"].str.startswith(base + " + ")]
        if old.empty or new.empty:
            continue
        o = old.iloc[0]
        published = PAPER_STEP[base][1]
        lines += [f"- **{n['method']}**: {n['GB']:.1f} GB online ({n['offline_GB']:.1f} GB offline), "
                  f"{n['rounds']:,.0f} rounds, {n['lan_net_half_s']:.1f} s of LAN network time per candidate, "
                  f"against {o['GB']:.1f} GB, {o['rounds']:,.0f} rounds and {o['lan_net_half_s']:.1f} s with the "
                  f"paper's nonlinearities ({o['GB'] / n['GB']:.2f}x fewer bytes, {o['rounds'] / n['rounds']:.2f}x "
                  f"fewer rounds; published: {published} GB)." for _, n in new.iterrows()]
    if lines:
        lines = ["### Beyond the paper: GeLU from one trig opening, fused QKV, a faster LayerNorm", "",
                 "The paper leaves GeLU to future work. With the one-round Fourier GeLU (2 rounds, 48 B per "
                 "element; see the `gelu` table), the query/key/value projections fused into one opening, and "
                 "LayerNorm's fast inverse square root (15 rounds per LayerNorm instead of 20 at the same error; "
                 "see the `layernorm` table):", ""] + lines + [""]
    return lines


def readme(df: pd.DataFrame, records: list[dict], written: list[Path], out_dir: Path, sources: list,
           accuracy_lines: list[str] = (), timing_lines: list[str] = ()) -> str:
    """reports/README.md: what each figure and table shows, where the numbers come from."""
    def rel(path):
        return Path(path).relative_to(out_dir).as_posix()

    figs = [p for p in written if p.suffix == ".png"]
    tables = [p for p in written if p.suffix == ".md"]
    described = descriptions()
    lines = [
        "# secfwt report",
        "",
        "Generated by `make report` (`secfwt report`) from the records in "
        + ", ".join(f"`{Path(s).as_posix()}`" for s in sources)
        + "; no MPC is run to make it. `make bench` refreshes the quick profile's records, "
          "`make bench PROFILE=paper` the paper's RoBERTa-large table (about 50 min on 2 cores), "
          "`make bench PROFILE=attention` the attention sweep (about 8 min), `make bench PROFILE=accuracy` "
          "the tuning runs and their MPC prices (about 100 min).",
        "",
        "Every number is a real two-party CrypTen run (separate processes over TCP). Rounds and bytes are "
        "counted exactly; times are estimated with `est_s = compute_s + rounds * 2 * latency_s + bytes * 8 / "
        "bandwidth_bps` (LAN 3 Gbps / 0.8 ms, WAN-200 200 Mbps / 40 ms, WAN-100 100 Mbps / 80 ms, latency "
        "as a round trip; half duplex: both directions' bytes on one pipe), where `compute_s` was measured on "
        "the machine below with one thread per party. Each CrypTen round costs two round trips (a two-party "
        "gloo all-reduce: four one-way delays), as runs over emulated links measured (see *The time model "
        "against emulated links*); no overlap of compute and communication; the dealer's offline work is "
        "not in `est_s`. Every estimate here is recomputed from the records' counts with this model. The paper "
        "table also gives the network alone under full duplex (each direction its own bandwidth: the busier "
        "direction's bytes, `duplex_bytes`). Records marked "
        "extrapolated measure 0 and 1 encoder blocks (LoRA and deep prompts: 1 and 2) and scale to the full "
        "depth: exact for rounds and bytes, approximate for times; their errors are the deepest measured run's.",
        "",
        "## Where the numbers come from",
        "",
        provenance(records).to_markdown(index=False),
        "",
    ]
    if (df["workload"] == "step").any():
        paper = paper_table(df)
        lines += ["## The paper's table beside ours", ""]
        if len(paper):
            costs = [c for c in PAPER_COST_COLUMNS if c in paper]
            ratios = ["method"] + [c for c in paper if c.endswith("_SFT_over")]
            lines += [markdown(paper[costs]), "",
                      f"Ratios: SFT's figure divided by each method's (SFT is `{sft_baseline_label(df)}`, "
                      "Adam's cheapest setting within 1 point of the most accurate one; see the `adam` table):", "",
                      markdown(paper[ratios]), ""]
            lines += ["Published (SecFwT, arXiv 2506.15307, LAN): SFT 651.6 s / 970.7 GB, prompt tuning "
                      "882.1 s / 1116.2 GB, FoT 174.1 s / 205.4 GB, FoT+RFA 55.2 s / 56.6 GB; backward plus "
                      "optimizer 73% of SFT's time; softmax 75% of the forward.", "",
                      "Columns: `GB` online, `offline_GB` the dealer's (both per step; a FoT step is one "
                      "candidate). `lan_net_half_s` and `lan_net_full_s` are the network alone (rounds x 2 x 0.8 ms + "
                      "carried bytes x 8 / 3 Gbps): half duplex carries both directions' bytes on one pipe, full "
                      "duplex only the busier direction's, call by call (the meter's `duplex_bytes`; CrypTen's "
                      "openings are symmetric, so about half). `lan_s`, `wan200_s`, `wan100_s` add this machine's "
                      "compute (2 shared cores, one thread per party; the paper used GPUs) to the half-duplex "
                      "network time. `paper_GB_half_s` / `paper_GB_full_s`: the time the published GB alone need "
                      "on the published 3 Gbps link under each convention.", ""]
            lines += paper_reproduction_lines(paper, sft_baseline_label(df), clamp_cost_per_element(df))
            lines += beyond_paper_lines(paper)
            lines += amortisation_lines(amortisation_table(df))
            lines += depth_error_lines(df)
            bd = breakdown_data(df)
            bd = bd[(bd["model"] == "large") & (bd["seq"] == 512)]
            if len(bd):
                cols = [c for c in ("method", "forward_time_share", "backward_time_share", "optimizer_time_share",
                                    "softmax_share_of_forward_time", "softmax_share_of_forward_bytes",
                                    "gelu_share_of_forward_bytes") if c in bd]
                lines += ["Breakdown at RoBERTa-large, L = 512 (shares of estimated LAN time and of bytes):", "",
                          bd[cols].to_markdown(index=False, floatfmt=".3f"), ""]
        else:
            lines += ["No RoBERTa-large L = 512 records yet: run `make bench PROFILE=paper`.", ""]
    lines += list(accuracy_lines)
    if timing_lines:
        lines += ["## The time model against emulated links", "",
                  "The `emulation` profile runs each workload with its two parties in separate network namespaces, "
                  "joined by a userspace relay that delays every packet by half the link's round trip and paces it "
                  "to the bandwidth (`secfwt.mpc.emulate`; this kernel has no netem). The dealer talks to the "
                  "parties over an unshaped bridge. Each record's measured wall time is set against the model's "
                  "prediction from the same record's counts and compute (`time_model` table and figure).", "",
                  *timing_lines, ""]
    lines += ["## Figures", ""]
    for path in figs:
        lines += [f"### {path.stem}", "", described.get((FIGURE, path.stem), ""), "",
                  f"![{path.stem}]({rel(path)}) ([SVG]({rel(path.with_suffix('.svg'))}))", ""]
    lines += ["## Tables", ""]
    for path in tables:
        lines.append(f"- [{path.stem}]({rel(path)}) ([CSV]({rel(path.with_suffix('.csv'))})): "
                     f"{described.get((TABLE, path.stem), '')}")
    lines += ["", "Security: records with provider `ttp` model the paper's trusted dealer (semi-honest, "
              "non-colluding servers); `tfp` records are insecure against party 0 and only show online costs.", ""]
    return "\n".join(lines)


def load_records(paths) -> list[dict]:
    records = []
    for path in paths:
        records += Store(path, warn=True).load()
    return latest_records(records)


def write_report(records_paths, out_dir: str | Path = "reports") -> list[Path]:
    """Regenerate figures (PNG+SVG) and tables (CSV+markdown) from record files; no MPC."""
    paths = [records_paths] if isinstance(records_paths, (str, Path)) else list(records_paths)
    records = load_records(paths)
    if not records:
        raise InputError(f"no records in {', '.join(map(str, paths))}")
    out_dir = Path(out_dir)
    from . import timing

    df = records_frame([r for r in records if not emulated_name(r)])  # emulated runs: the time model's own
    if "workload" not in df:
        df["workload"] = pd.Series(dtype=str)
    figs, tables = out_dir / "figures", out_dir / "tables"
    figs.mkdir(parents=True, exist_ok=True)
    tables.mkdir(parents=True, exist_ok=True)
    written = []
    present = set(df["workload"])
    for art in ARTIFACTS:
        if art.workload not in present:
            continue
        if art.kind == FIGURE:
            written += plotting.save(art.make(df), figs / art.name)
        else:
            table = art.make(df)
            if len(table):
                written += _write_table(table, tables / art.name)
    from . import accuracy

    tuned, accuracy_lines = accuracy.write(records, figs, tables)
    timed, timing_lines = timing.write(records, figs, tables)
    written += tuned + timed
    readme_path = out_dir / "README.md"
    readme_path.write_text(readme(df, records, written, out_dir, paths, accuracy_lines, timing_lines))
    return written + [readme_path]


def _write_table(table: pd.DataFrame, stem: Path) -> list[Path]:
    csv, md = stem.with_suffix(".csv"), stem.with_suffix(".md")
    table.to_csv(csv, index=False)
    md.write_text(markdown(table) + "\n")
    return [csv, md]


