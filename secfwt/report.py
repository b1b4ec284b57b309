"""Tables and figures from stored records (pandas, matplotlib); no MPC is run here.

Plots are pure functions of a DataFrame and validate its columns first, so tests
can call them on small synthetic frames and assert on the data they plot.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .results import Store

BASE_COLUMNS = ("workload", "provider", "status", "rounds", "bytes", "offline_bytes", "compute_s",
                "wall_s", "max_abs_err")


def records_frame(records: list[dict]) -> pd.DataFrame:
    """One row per record: parameters become columns, ``est_s`` becomes ``est_s_<link>``."""
    rows = []
    for r in records:
        row = {k: r.get(k) for k in BASE_COLUMNS + ("approx_err", "world_size", "security")}
        row.update(r.get("params", {}))
        for link, seconds in (r.get("est_s") or {}).items():
            row[f"est_s_{link}"] = seconds
        row["git_sha"] = (r.get("env") or {}).get("git_sha")
        row["cpu"] = (r.get("env") or {}).get("cpu")
        rows.append(row)
    return pd.DataFrame(rows)


def require_columns(df: pd.DataFrame, columns, what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what}: records lack column(s) {', '.join(missing)}")


def attention_scaling_data(df: pd.DataFrame, links=("lan", "wan100")) -> pd.DataFrame:
    """The points of the attention-scaling figure: per variant and seq, bytes, rounds and est time."""
    cols = ["impl", "seq", "bytes", "rounds", "status"] + [f"est_s_{ln}" for ln in links]
    sub = df[df["workload"] == "attention"] if "workload" in df else df
    require_columns(sub, cols, "attention scaling")
    sub = sub[sub["status"] != "error"]
    return sub[cols].sort_values(["impl", "seq"]).reset_index(drop=True)


def plot_attention_scaling(df: pd.DataFrame, links=("lan", "wan100")):
    """Online bytes and estimated time per link against sequence length, one line per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = attention_scaling_data(df, links)
    fig, axes = plt.subplots(1, 1 + len(links), figsize=(4.2 * (1 + len(links)), 3.6), constrained_layout=True)
    panels = [("bytes", "online bytes (all parties)")] + [(f"est_s_{ln}", f"est. seconds, {ln}") for ln in links]
    for ax, (col, label) in zip(axes, panels):
        for impl, g in data.groupby("impl"):
            ax.plot(g["seq"], g[col], marker="o", label=impl)
        bad = data[data["status"] != "ok"]
        if len(bad):  # runs whose error exceeds the tolerance stay visible, crossed out
            ax.plot(bad["seq"], bad[col], "x", color="red", markersize=11, mew=2, linestyle="none",
                    label="error above tolerance")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length L")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].legend()
    fig.suptitle("Attention core in 2PC: softmax vs random-feature attention")
    return fig


def attention_table(df: pd.DataFrame, links=("lan", "wan200", "wan100")) -> pd.DataFrame:
    data = df[df["workload"] == "attention"]
    cols = ["impl", "seq", "heads", "head_dim", "features", "rounds", "bytes", "offline_bytes", "compute_s"]
    cols += [f"est_s_{ln}" for ln in links] + ["max_abs_err", "approx_err", "status"]
    require_columns(data, cols, "attention table")
    out = data[cols].sort_values(["impl", "seq"]).reset_index(drop=True)
    out["MB"] = out["bytes"] / 1e6
    return out


def write_report(records_path: str | Path, out_dir: str | Path = "reports") -> list[Path]:
    """Regenerate figures (PNG+SVG) and tables (CSV+markdown) from a records file."""
    out_dir = Path(out_dir)
    records = Store(records_path).load()
    if not records:
        raise ValueError(f"no records in {records_path}")
    df = records_frame(records)
    written = []
    figs, tables = out_dir / "figures", out_dir / "tables"
    figs.mkdir(parents=True, exist_ok=True)
    tables.mkdir(parents=True, exist_ok=True)
    if (df["workload"] == "attention").any():
        fig = plot_attention_scaling(df)
        for ext in ("png", "svg"):
            path = figs / f"attention_scaling.{ext}"
            fig.savefig(path, dpi=120)
            written.append(path)
        table = attention_table(df)
        written += _write_table(table, tables / "attention")
    return written


def _write_table(table: pd.DataFrame, stem: Path) -> list[Path]:
    csv, md = stem.with_suffix(".csv"), stem.with_suffix(".md")
    table.to_csv(csv, index=False)
    md.write_text(table.to_markdown(index=False, floatfmt=".4g") + "\n")
    return [csv, md]
