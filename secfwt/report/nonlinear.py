"""Single operations and nonlinearities: the trig protocol, GeLU, LayerNorm, meter cross-checks."""

from __future__ import annotations

import pandas as pd

from .. import paper as publication
from ..variants import GELU
from .frame import forward_rows, measured_rows, pyplot, require_columns, with_backward_flag
from .versus_paper import paper_table


def trig_table(df: pd.DataFrame, links=("lan",)) -> pd.DataFrame:
    data = measured_rows(df, "trig")
    cols = ["impl", "w", "range", "size", "provider", "rounds", "bytes", "offline_bytes", "max_abs_err", "status"]
    require_columns(data, cols, "trig table")
    out = data[cols].sort_values(["impl", "w", "size"]).reset_index(drop=True)
    out["bytes_per_element"] = out["bytes"] / out["size"]
    return out


def gelu_table(df: pd.DataFrame) -> pd.DataFrame:
    """GeLU per element: the tanh form (with and without the clamp pretrained inputs need) against
    the one-round Fourier series, error against exact (erf) GeLU over the input range.  Runs with
    ``backward`` also state what the backward alone costs per element (online and offline) and the
    gradient's error against g * GeLU'(x) of the exact GeLU."""
    data = with_backward_flag(measured_rows(df, "gelu"))
    cols = ["impl", "clamp", "range", "size", "backward", "provider", "rounds", "bytes", "offline_bytes",
            "max_abs_err", "status"]
    require_columns(data, cols, "gelu table")
    back = [c for c in ("backward_rounds", "backward_bytes", "backward_offline_bytes", "grad_max_abs_err")
            if c in data]
    out = data[cols + back].sort_values(["impl", "clamp", "range", "backward"]).reset_index(drop=True)
    out["bytes_per_element"] = out["bytes"] / out["size"]
    out["offline_bytes_per_element"] = out["offline_bytes"] / out["size"]
    for c in ("backward_bytes", "backward_offline_bytes"):
        if c in out:
            out[f"{c}_per_element"] = out.pop(c) / out["size"]
    return out


def layernorm_table(df: pd.DataFrame) -> pd.DataFrame:
    """LayerNorm per token: CrypTen's inverse square root against the fast one, rounds, bytes per token
    and error against float64 LayerNorm over the variance range."""
    data = measured_rows(df, "layernorm")
    cols = ["impl", "low", "high", "rows", "hidden", "provider", "rounds", "bytes", "offline_bytes", "max_abs_err",
            "max_rel_err", "status"]
    require_columns(data, cols, "layernorm table")
    out = data[cols].sort_values(["impl", "low", "high"]).reset_index(drop=True)
    out["bytes_per_token"] = out["bytes"] / out["rows"]
    out["offline_bytes_per_token"] = out["offline_bytes"] / out["rows"]
    return out


def ops_table(df: pd.DataFrame) -> pd.DataFrame:
    data = measured_rows(df, "op")
    cols = ["op", "size", "provider", "rounds", "bytes", "offline_bytes", "max_abs_err", "status"]
    require_columns(data, cols, "ops table")
    return data[cols].sort_values(["op", "size"]).reset_index(drop=True)


def plot_nonlinear_costs(df: pd.DataFrame):
    """Left: GeLU per element (online bytes, rounds) by variant.  Right: one FoT candidate at
    the paper's shape (:data:`secfwt.paper.SHAPE`), with the paper's nonlinearities and beyond them, against the paper's GB."""
    plt = pyplot()
    gelu = gelu_table(df)
    gelu = gelu.assign(label=[f"{i}{' clamped' if c else ''}\n|x|<={r:g}{chr(10) + '+ backward' if b else ''}"
                              for i, c, r, b in zip(gelu["impl"], gelu["clamp"], gelu["range"], gelu["backward"])])
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
        ax.text(0.5, 0.5, f"no {publication.SHAPE} records:\nmake bench PROFILE=paper", ha="center",
                transform=ax.transAxes)
    ax.set_title(f"one FoT candidate, {publication.SHAPE}", fontsize=10)
    return fig


def clamp_cost_per_element(df: pd.DataFrame) -> float | None:
    """Online bytes per element that the tanh GeLU's clamp adds (what pretrained FFN inputs switch
    on), from the `gelu` records; None without both measurements."""
    data = forward_rows(measured_rows(df, "gelu"))
    if data.empty or "impl" not in data:
        return None
    tanh = data[data["impl"] == GELU.default]
    per = {bool(c): (g["bytes"] / g["size"]).iloc[0] for c, g in tanh.groupby("clamp")}
    return per[True] - per[False] if {True, False} <= set(per) else None
