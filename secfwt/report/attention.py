"""Attention: softmax against RFA as the sequence grows, and RFA's error against its features."""

from __future__ import annotations

import pandas as pd

from .. import variants as attn  # the attention registry
from .frame import forward_rows, measured_rows, pyplot, require_columns, variant_sorted, with_backward_flag


# -- attention: cost against sequence length ------------------------------------------------------
def attention_scaling_data(df: pd.DataFrame, links=("lan", "wan100")) -> pd.DataFrame:
    """The points of the scaling figure: per config, variant and seq: bytes, rounds, est time."""
    cols = ["impl", "seq", "heads", "head_dim", "bytes", "rounds", "status"] + [f"est_s_{ln}" for ln in links]
    sub = forward_rows(measured_rows(df, "attention"))
    require_columns(sub, cols, "attention scaling")
    if "features" in sub:  # one feature count per config: the most common one
        mode = sub.groupby(["heads", "head_dim"])["features"].agg(lambda s: s.mode().iloc[0])
        sub = sub[[f == mode[(h, d)] for h, d, f in zip(sub["heads"], sub["head_dim"], sub["features"])]]
    return variant_sorted(sub[cols], "heads", "head_dim", "impl", "seq").reset_index(drop=True)


#: (marker, marker size, line style) per series, largest first: overlapping series stay visible
SERIES_STYLES = (("o", 9, "-"), ("s", 7, "--"), ("^", 5, "-."), ("D", 3, ":"))


def plot_attention_scaling(df: pd.DataFrame, links=("lan", "wan100")):
    """Online bytes, rounds and estimated time per link against L (log-log), a row per config."""
    plt = pyplot()
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
    sub = forward_rows(measured_rows(df, "attention"))
    require_columns(sub, cols, "RFA error against features")
    sub = sub[sub["impl"].map(attn.is_rfa)]
    if sub.empty:
        return sub[cols]
    counts = sub.groupby(["seq", "heads", "head_dim"])["features"].nunique()
    seq, heads, head_dim = counts.idxmax()  # the config with the widest feature sweep
    sub = sub[(sub["seq"] == seq) & (sub["heads"] == heads) & (sub["head_dim"] == head_dim)]
    return variant_sorted(sub[cols], "impl", "features").reset_index(drop=True)


def plot_rfa_error(df: pd.DataFrame):
    """Error against softmax attention (approximation + MPC) and against the RFA twin (MPC only)."""
    plt = pyplot()
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
    """Every attention record; runs with ``backward`` also state what the backward alone costs and the
    gradients' largest relative error and smallest cosine against the twin's autograd."""
    data = with_backward_flag(df[df["workload"] == "attention"])
    cols = ["impl", "seq", "heads", "head_dim", "features", "backward", "rounds", "bytes", "offline_bytes",
            "compute_s"]
    cols += [f"est_s_{ln}" for ln in links] + ["max_abs_err", "approx_err", "status"]
    require_columns(data, cols, "attention table")
    cols += [c for c in ("backward_rounds", "backward_bytes", "backward_offline_bytes", "grad_max_rel_err",
                         "grad_min_cosine") if c in data]
    return variant_sorted(data[cols], "heads", "head_dim", "features", "backward", "impl", "seq").reset_index(drop=True)


def attention_ratio_table(df: pd.DataFrame, seq: int | None = None, baseline: str = attn.SOFTMAX,
                          links=("lan", "wan200", "wan100")) -> pd.DataFrame:
    """At the longest L (or ``seq``), each variant's cost and the baseline's cost divided by it."""
    data = attention_scaling_data(df, links)
    extra = forward_rows(measured_rows(df, "attention"))
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
    return variant_sorted(pd.DataFrame(rows), "heads", "head_dim", "impl") if rows else pd.DataFrame()
