"""Tables and figures from stored records (pandas, matplotlib); no MPC is run here.

Plots are pure functions of a DataFrame and validate its columns first, so tests
can call them on small synthetic frames and assert on the data they plot.  Every
record file under ``reports/records/`` feeds the report; where two records measure
the same workload, parameters and provider, the newer one is used.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import plotting
from .accuracy import variant_suffix
from .links import PROFILES as LINK_PROFILES
from .links import estimate_seconds, network_seconds
from .results import Store, aggregate_layers, record_key

BASE_COLUMNS = ("workload", "provider", "status", "rounds", "bytes", "offline_rounds", "offline_bytes",
                "compute_s", "wall_s", "max_abs_err")
ATTN_CONFIG = ["heads", "head_dim", "batch"]
VARIANT_ORDER = ["softmax-stock", "softmax-stable", "rfa-builtin", "rfa-onepass"]


def records_frame(records: list[dict]) -> pd.DataFrame:
    """One row per record: parameters become columns, ``est_s`` becomes ``est_s_<link>``."""
    rows = []
    for r in records:
        row = {k: r.get(k) for k in BASE_COLUMNS + ("approx_err", "world_size", "security")}
        row.update(r.get("params", {}))
        for link, seconds in (r.get("est_s") or {}).items():
            row[f"est_s_{link}"] = seconds
        env = r.get("env") or {}
        row.update(git_sha=env.get("git_sha"), cpu=env.get("cpu"), date=env.get("date"))
        row.update(_scope_columns(r.get("scopes") or {}))
        row["extrapolated"] = "extrapolation" in r
        if r.get("extrapolation", {}).get("target_layers") is not None:
            row["layers"] = r["extrapolation"]["target_layers"]
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


def latest_records(records: list[dict]) -> list[dict]:
    """Drop superseded measurements: one record per (workload, params, provider, world size), the
    newest that finished; a failed run only shows where nothing finished."""
    latest = {}
    for r in records:
        key = record_key(r["workload"], r["params"], r["provider"], r["world_size"])
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
            for impl, g in cfg.groupby("impl", sort=False):
                ax.plot(g["seq"], g[col], marker="o", label=impl)
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
    sub = sub[sub["impl"].str.startswith("rfa")]
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
        ax.set_title(f"L={r['seq']}, {r['heads']} heads x {r['head_dim']}", fontsize=9)
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


def attention_ratio_table(df: pd.DataFrame, seq: int | None = None, baseline: str = "softmax-stable",
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


def ops_table(df: pd.DataFrame) -> pd.DataFrame:
    data = _measured(df, "op")
    cols = ["op", "size", "provider", "rounds", "bytes", "offline_bytes", "max_abs_err", "status"]
    require_columns(data, cols, "ops table")
    return data[cols].sort_values(["op", "size"]).reset_index(drop=True)


# -- tuning steps: the paper's efficiency table and breakdown ------------------------------------
#: SecFwT (arXiv 2506.15307): RoBERTa-large, L = 512, LAN 3 Gbps / 0.8 ms, per step.
PAPER_STEP = {"SFT": (651.6, 970.7), "Prompt tuning": (882.1, 1116.2), "FoT (softmax)": (174.1, 205.4),
              "FoT (RFA)": (55.2, 56.6)}
PAPER_BREAKDOWN = {"backward_plus_optimizer_time_share": 0.73, "softmax_share_of_forward": 0.75}
METHOD_LABELS = {("sft", "adam"): "SFT", ("sft", "sgd"): "SFT (SGD)", ("prompt", None): "Prompt tuning",
                 ("lora", None): "LoRA", ("fot", "softmax"): "FoT (softmax)", ("fot", "rfa"): "FoT (RFA)"}


def method_label(row) -> str:
    if row["method"] == "sft":
        label = METHOD_LABELS[("sft", row["optimizer"])]
    elif row["method"] == "fot":
        label = METHOD_LABELS[("fot", "rfa" if str(row["attention"]).startswith("rfa") else "softmax")]
    else:
        label = METHOD_LABELS[(row["method"], None)]
    return label + variant_suffix(row)


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
        per = r["population"] if r["method"] == "fot" and r["fot_mode"] == "sequential" else 1
        row = {"method": method_label(r), "mode": r["fot_mode"] if r["method"] == "fot" else "",
               "model": r["model"], "seq": r["seq"], "batch": r["batch"],
               "layers": r["layers"], "extrapolated": bool(r.get("extrapolated", False)),
               "rounds": r["rounds"] / per, "GB": r["bytes"] / per / 1e9, "offline_GB": r["offline_bytes"] / per / 1e9,
               "compute_s": r["compute_s"] / per}
        for ln in links:
            row[f"{ln}_s"] = r[f"est_s_{ln}"] / per
        if r["method"] == "fot":
            row["generation"] = f"{r['population']} x {r['fot_mode']}: {r['bytes'] / 1e9:.3g} GB, " \
                                f"{r['est_s_lan']:.4g} s lan"
        row["max_abs_err"] = r["max_abs_err"]
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["model", "seq", "method"]).reset_index(drop=True)


#: parameters that select a variant of the same computation (its own row wherever costs are compared)
VARIANT_PARAMS = ("gelu", "qkv")


def fot_modes_table(df: pd.DataFrame, links=("lan", "wan200", "wan100")) -> pd.DataFrame:
    """One CMA-ES generation run as one batched forward or one forward per candidate: the cost of
    each and, per link, the cheaper one."""
    data = _measured(df, "step")
    data = data[data["method"] == "fot"] if "method" in data else data
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


def paper_table(df: pd.DataFrame, model: str = "large", seq: int = 512, baseline: str = "SFT") -> pd.DataFrame:
    """The paper's efficiency table (RoBERTa-large, L = 512) with this suite's figures beside it."""
    table = step_table(df)
    table = table[(table["model"] == model) & (table["seq"] == seq)]
    table = table[table["mode"] != "batched"]  # FoT per candidate: from the one-by-one generation
    if table.empty:
        return table
    base = table[table["method"] == baseline]
    rows = []
    for _, r in table.iterrows():
        paper_s, paper_gb = PAPER_STEP.get(r["method"], (None, None))
        lan = LINK_PROFILES["lan"]
        row = {"method": r["method"], "lan_s": r["lan_s"], "GB": r["GB"], "offline_GB": r["offline_GB"],
               "rounds": r["rounds"], "compute_s": r["compute_s"],
               # the network alone (rounds x latency + bytes / bandwidth, half duplex), no compute
               "lan_network_s": network_seconds(r["rounds"], r["GB"] * 1e9, lan),
               "lan_transfer_s": r["GB"] * 1e9 * 8 / lan.bandwidth_bps,
               "paper_lan_s": paper_s, "paper_GB": paper_gb,
               # the time the published bytes alone need on the published 3 Gbps link
               "paper_GB_transfer_s": paper_gb * 1e9 * 8 / lan.bandwidth_bps if paper_gb else None,
               "wan200_s": r["wan200_s"], "wan100_s": r["wan100_s"]}
        if len(base):
            b = base.iloc[0]
            row["lan_speedup_vs_SFT"] = b["lan_s"] / r["lan_s"]
            row["lan_network_speedup_vs_SFT"] = network_seconds(b["rounds"], b["GB"] * 1e9, lan) / \
                row["lan_network_s"]
            row["bytes_reduction_vs_SFT"] = b["GB"] / r["GB"]
            row["wan100_speedup_vs_SFT"] = b["wan100_s"] / r["wan100_s"]
            if paper_s is not None:
                row["paper_speedup_vs_SFT"] = PAPER_STEP["SFT"][0] / paper_s
                row["paper_bytes_reduction_vs_SFT"] = PAPER_STEP["SFT"][1] / paper_gb
        rows.append(row)
    order = ["SFT", "SFT (SGD)", "Prompt tuning", "LoRA", "FoT (softmax)", "FoT (RFA)"]
    rank = {m: i for i, m in enumerate(order)}
    return pd.DataFrame(rows).sort_values(
        "method", key=lambda s: s.map(lambda m: next((rank[o] + 0.5 * (m != o) for o in reversed(order)
                                                      if m.startswith(o)), len(order))))


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
FIGURES = {  # name -> (workload it needs, function of the frame)
    "attention_scaling": ("attention", plot_attention_scaling),
    "rfa_error_vs_features": ("attention", plot_rfa_error),
    "step_costs": ("step", plot_step_costs),
    "step_breakdown": ("step", plot_breakdown),
    "nonlinear_costs": ("gelu", plot_nonlinear_costs),
}
TABLES = {
    "attention": ("attention", attention_table),
    "attention_ratios": ("attention", attention_ratio_table),
    "trig": ("trig", trig_table),
    "gelu": ("gelu", gelu_table),
    "ops": ("op", ops_table),
    "steps": ("step", step_table),
    "step_breakdown": ("step", breakdown_data),
    "paper_table": ("step", paper_table),
    "fot_modes": ("step", fot_modes_table),
}


DESCRIPTIONS = {
    "attention_scaling": "Online bytes, rounds and estimated LAN / WAN-100 time of the attention core against "
                         "the sequence length, log-log: softmax's O(L^2) against RFA's O(L). Red crosses mark runs "
                         "whose error against the plaintext twin exceeds the tolerance (CrypTen's stock softmax "
                         "from a few hundred tokens).",
    "rfa_error_vs_features": "RFA's error against exact softmax attention (approximation + MPC) and against its "
                             "own plaintext twin (MPC only) as the number of random features D grows.",
    "nonlinear_costs": "GeLU per element (tanh form, clamped as pretrained inputs need, against the one-round "
                       "Fourier series) and one FoT candidate at RoBERTa-large, L = 512, with the paper's "
                       "nonlinearities and with the Fourier GeLU and fused QKV; red: the published GB.",
    "step_costs": "Estimated seconds per tuning step under each link and online GB per step, per method.",
    "step_breakdown": "Share of estimated LAN time and of online bytes per phase (forward, loss, backward, "
                      "optimizer, opening to the data owner) of one step, per method.",
    "attention": "Every attention record: counts, estimated seconds per link, both errors, status.",
    "attention_ratios": "At the longest sequence measured: each variant's cost and softmax-stable's cost divided "
                        "by it (bytes, rounds, LAN time).",
    "trig": "The one-round cosine/sine protocol against CrypTen's cossin: rounds, bytes per element, error.",
    "ops": "Single CrypTen operations (meter cross-checks).",
    "gelu": "GeLU per element: CrypTen-style tanh form (26 rounds; clamped, as pretrained inputs need, 35) against "
            "the Fourier series from one trig opening (2 rounds), bytes per element online and offline, error "
            "against exact erf GeLU over U(-range, range).",
    "steps": "One step of each method: rounds, GB, seconds per link (FoT: one candidate's forward; the "
             "generation's cost beside it).",
    "step_breakdown_table": "The breakdown behind the figure, with the softmax and GeLU shares of the forward.",
    "fot_modes": "One CMA-ES generation as one batched forward against one forward per candidate, "
                 "and the cheaper of the two under each link.",
    "paper_table": "The paper's efficiency table (RoBERTa-large, L = 512, LAN) with this suite's measurements "
                   "beside the published figures, and the same steps under WAN links (not published).",
}


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


def beyond_paper_lines(paper: pd.DataFrame) -> list[str]:
    """The paper's FoT rows beside the same rows with the beyond-the-paper variants (Fourier GeLU,
    fused QKV), per candidate at the paper's shape, against the published 56.6 GB."""
    lines = []
    for base in ("FoT (RFA)", "FoT (softmax)"):
        old = paper[paper["method"] == base]
        new = paper[paper["method"].str.startswith(base + " + ")]
        if old.empty or new.empty:
            continue
        o, n = old.iloc[0], new.iloc[0]
        published = PAPER_STEP[base][1]
        lines.append(f"- **{n['method']}**: {n['GB']:.1f} GB online ({n['offline_GB']:.1f} GB offline), "
                     f"{n['rounds']:,.0f} rounds, {n['lan_network_s']:.1f} s of LAN network time per candidate, "
                     f"against {o['GB']:.1f} GB, {o['rounds']:,.0f} rounds and {o['lan_network_s']:.1f} s with the "
                     f"paper's nonlinearities ({o['GB'] / n['GB']:.2f}x fewer bytes; published: {published} GB).")
    if lines:
        lines = ["### Beyond the paper: GeLU from one trig opening, fused QKV", "",
                 "The paper leaves GeLU to future work. With the one-round Fourier GeLU (2 rounds, 48 B per "
                 "element; see the `gelu` table) and the query/key/value projections fused into one opening:", ""] \
            + lines + [""]
    return lines


def readme(df: pd.DataFrame, records: list[dict], written: list[Path], out_dir: Path, sources: list,
           accuracy_lines: list[str] = ()) -> str:
    """reports/README.md: what each figure and table shows, where the numbers come from."""
    def rel(path):
        return Path(path).relative_to(out_dir).as_posix()

    figs = [p for p in written if p.suffix == ".png"]
    tables = [p for p in written if p.suffix == ".md"]
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
        "counted exactly; times are estimated with `est_s = compute_s + rounds * latency_s + bytes * 8 / "
        "bandwidth_bps` (LAN 3 Gbps / 0.8 ms, WAN-200 200 Mbps / 40 ms, WAN-100 100 Mbps / 80 ms), where "
        "`compute_s` was measured on the machine below with one thread per party. Records marked extrapolated "
        "measure 0 and 1 encoder blocks (LoRA: 1 and 2) and scale to the full depth: exact for rounds and "
        "bytes, approximate for times.",
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
            lines += [paper.to_markdown(index=False, floatfmt=".4g"), ""]
            lines += ["Published (SecFwT, arXiv 2506.15307, LAN): SFT 651.6 s / 970.7 GB, prompt tuning "
                      "882.1 s / 1116.2 GB, FoT 174.1 s / 205.4 GB, FoT+RFA 55.2 s / 56.6 GB; backward plus "
                      "optimizer 73% of SFT's time; softmax 75% of the forward.", "",
                      "Columns: `GB` online, `offline_GB` the dealer's; `lan_s` includes this machine's compute "
                      "(2 shared cores, one thread per party; the paper used GPUs), `lan_network_s` is the network "
                      "alone (rounds x latency + bytes / bandwidth, half duplex), and the ratios to SFT are given "
                      "for both.", ""]
            lines += beyond_paper_lines(paper)
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
    lines += ["## Figures", ""]
    for path in figs:
        lines += [f"### {path.stem}", "", DESCRIPTIONS.get(path.stem, ""), "",
                  f"![{path.stem}]({rel(path)}) ([SVG]({rel(path.with_suffix('.svg'))}))", ""]
    lines += ["## Tables", ""]
    for path in tables:
        key = "step_breakdown_table" if path.stem == "step_breakdown" else path.stem
        lines.append(f"- [{path.stem}]({rel(path)}) ([CSV]({rel(path.with_suffix('.csv'))})): "
                     f"{DESCRIPTIONS.get(key, '')}")
    lines += ["", "Security: records with provider `ttp` model the paper's trusted dealer (semi-honest, "
              "non-colluding servers); `tfp` records are insecure against party 0 and only show online costs.", ""]
    return "\n".join(lines)


def load_records(paths) -> list[dict]:
    records = []
    for path in paths:
        records += Store(path).load()
    return latest_records(records)


def write_report(records_paths, out_dir: str | Path = "reports") -> list[Path]:
    """Regenerate figures (PNG+SVG) and tables (CSV+markdown) from record files; no MPC."""
    paths = [records_paths] if isinstance(records_paths, (str, Path)) else list(records_paths)
    records = load_records(paths)
    if not records:
        raise ValueError(f"no records in {', '.join(map(str, paths))}")
    out_dir = Path(out_dir)
    df = records_frame(records)
    figs, tables = out_dir / "figures", out_dir / "tables"
    figs.mkdir(parents=True, exist_ok=True)
    tables.mkdir(parents=True, exist_ok=True)
    written = []
    present = set(df["workload"])
    for name, (workload, plot) in FIGURES.items():
        if workload in present:
            written += plotting.save(plot(df), figs / name)
    for name, (workload, make) in TABLES.items():
        if workload in present:
            table = make(df)
            if len(table):
                written += _write_table(table, tables / name)
    from . import accuracy

    tuned, accuracy_lines = accuracy.write(records, figs, tables)
    readme_path = out_dir / "README.md"
    readme_path.write_text(readme(df, records, written, out_dir, paths, accuracy_lines))
    written += tuned
    return written + [readme_path]


def _write_table(table: pd.DataFrame, stem: Path) -> list[Path]:
    csv, md = stem.with_suffix(".csv"), stem.with_suffix(".md")
    table.to_csv(csv, index=False)
    md.write_text(table.to_markdown(index=False, floatfmt=".4g") + "\n")
    return [csv, md]


