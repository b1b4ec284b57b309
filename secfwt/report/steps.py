"""Tuning steps per method: costs per link, Adam's MPC settings, FoT modes, the per-phase breakdown."""

from __future__ import annotations

import pandas as pd

from .. import paper as publication
from ..links import PROFILES as LINK_PROFILES
from ..links import estimate_seconds, network_seconds
from ..variants import FOT, PROMPT, SFT
from .accuracy import ADAM_DEFAULTS, VARIANT_PARAMS, base_label, variant_suffix
from .frame import MISSING, as_number, measured_rows, pyplot, require_columns

#: P-tuning v2's label (``prompt_depth=deep``); the paper's published prompt-tuning row sits beside both
DEEP_PROMPT_LABEL = "Deep prompt tuning (P-tuning v2)"




def method_label(row) -> str:
    """A step record's label: :func:`base_label`, SFT's SGD and deep prompt tuning named, then its
    Adam settings (where not the defaults) and variants."""
    label = base_label(row["method"], row.get("attention"))
    if row["method"] == SFT and row["optimizer"] == "sgd":
        label += " (SGD)"
    elif row["method"] == PROMPT and row.get("prompt_depth") == "deep":
        label = DEEP_PROMPT_LABEL
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
    data = measured_rows(df, "step")
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
               "duplex_GB": as_number(r.get("duplex_bytes")) / per / 1e9, "compute_s": r["compute_s"] / per,
               "adam": adam_text(r) if adam_settings(r) else "", "cpu": r.get("cpu")}
        for ln in links:
            row[f"{ln}_s"] = r[f"est_s_{ln}"] / per
        if r["method"] == FOT:
            lan = MISSING if pd.isna(r["est_s_lan"]) else f"{r['est_s_lan']:.4g}"
            row["generation"] = f"{int(r['population'])} x {r['fot_mode']}: {r['bytes'] / 1e9:.3g} GB, {lan} s lan"
        row["max_abs_err"] = r["max_abs_err"]
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["model", "seq", "method"]).reset_index(drop=True)


def fot_modes_table(df: pd.DataFrame, links=("lan", "wan200", "wan100")) -> pd.DataFrame:
    """One CMA-ES generation run as one batched forward or one forward per candidate: the cost of
    each and, per link, the cheaper one."""
    data = measured_rows(df, "step")
    data = data[data["method"] == FOT] if "method" in data else data
    if data.empty:
        return pd.DataFrame()
    settings = [k for k in VARIANT_PARAMS if k in data]  # a record made before a setting existed ran its paper choice
    data = data.assign(**{k: data[k].fillna(VARIANT_PARAMS[k][0]) for k in settings})
    keys = ["model", "seq", "batch", "attention", "population", "layers"] + settings
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
        for ln in links:  # '' where either side has no time with compute (a noisy extrapolation)
            times = {m: row[f"{m}_{ln}_s"] for m in ("batched", "sequential")}
            row[f"cheaper_{ln}"] = "" if any(pd.isna(t) for t in times.values()) else min(times, key=times.get)
        rows.append(row)
    return pd.DataFrame(rows)


#: the SFT row the paper table's ratios divide by: Adam's cheapest setting whose update error against
#: plaintext Adam (given the same gradient) is within this much of the most accurate setting measured.
#: Not within 1% of plaintext itself: 16-bit fixed point alone puts every setting's error near 5%
#: (updates of at most lr = 1e-3 in steps of 2^-16; see the `adam` table)
ADAM_TOLERANCE = 0.01


def adam_table(df: pd.DataFrame) -> pd.DataFrame:
    """Adam's MPC settings against plaintext Adam: per SFT Adam record, the settings, what the
    optimizer phase costs, its own error (``optimizer_rel_err``: relative L2 of the whole update
    against plaintext Adam given the same MPC gradient; measured where the step is small enough to
    compare every tensor) and the whole step's (``update_all_rel_err``: against plaintext autograd
    + Adam)."""
    data = measured_rows(df, "step")
    if data.empty or "optimizer" not in data:
        return pd.DataFrame()
    data = data[(data["method"] == SFT) & (data["optimizer"] == "adam")]
    rows = []
    choice = adam_choice(df)
    for _, r in data.iterrows():
        settings = adam_settings(r)
        rows.append({"model": r["model"], "layers": r["layers"], "seq": r["seq"], "batch": r["batch"],
                     "sqrt_steps": settings[0], "recip_steps": settings[1], "sign_test": not settings[2],
                     "optimizer_rounds": r.get("optimizer_rounds"), "optimizer_GB": as_number(r.get("optimizer_bytes")) / 1e9,
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
    data = measured_rows(df, "step")
    if data.empty or "optimizer_rel_err" not in data or "optimizer_bytes" not in data:
        return tuple(ADAM_DEFAULTS.values())
    data = data[(data["method"] == SFT) & (data["optimizer"] == "adam") & data["optimizer_rel_err"].notna()]
    if data.empty:
        return tuple(ADAM_DEFAULTS.values())
    # settings compare on one shape: the one with the most distinct settings measured (the sensitivity
    # sweep), not the most records (many runs of one setting at another shape compare nothing)
    shape = ["model", "layers", "seq", "batch"]
    settings = data.apply(adam_settings, axis=1).rename("settings")
    widest = pd.concat([data[shape], settings], axis=1).groupby(shape)["settings"].nunique().idxmax()
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
    data = measured_rows(df, "step")
    require_columns(data, ["method", "model", "seq", "forward_bytes"], "breakdown")
    lk = LINK_PROFILES[link]
    rows = []
    for _, r in data.iterrows():
        phases = [p for p in ("forward", "loss", "backward", "optimizer", "open") if pd.notna(r.get(f"{p}_bytes"))]
        secs = {p: _phase_seconds(r, p, lk) for p in phases}
        total_s, total_b = sum(secs.values()), sum(r[f"{p}_bytes"] for p in phases)
        row = {"method": method_label(r), "mode": r.get("fot_mode", "") if r["method"] == FOT else "",
               "model": r["model"], "seq": r["seq"], "batch": r.get("batch", 1)}
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


def headline_config(data: pd.DataFrame) -> tuple:
    """The (model, seq) a step figure shows: the paper's shape when its steps were measured, else the
    configuration whose steps cost the most bytes."""
    shapes = set(zip(data["model"], data["seq"]))
    if (publication.MODEL, publication.SEQ) in shapes:
        return publication.MODEL, publication.SEQ
    return data.groupby(["model", "seq"])["GB"].sum().idxmax()


def bar_labels(data: pd.DataFrame) -> list[str]:
    """One label per row: the method (and the FoT mode), with the batch where a label repeats."""
    base = [m + (f", {mode}" if mode else "") for m, mode in zip(data["method"], data.get("mode", [""] * len(data)))]
    counts = pd.Series(base).value_counts()
    return [b + (f", batch {int(n)}" if counts[b] > 1 else "") for b, n in zip(base, data["batch"])]


def _method_rows(fig_rows: int):
    """A figure of two panels side by side with one horizontal bar per method, labels on the left."""
    plt = pyplot()
    return plt.subplots(1, 2, figsize=(12, 1.4 + 0.32 * max(fig_rows, 3)), sharey=True, constrained_layout=True)


def plot_breakdown(df: pd.DataFrame, link: str = "lan", model: str | None = None, seq: int | None = None):
    """Stacked shares of time (under ``link``) and bytes per phase, one bar per method."""
    data = breakdown_data(df, link)
    if model is None or seq is None:
        model, seq = headline_config(step_table(df))
    data = data[(data["model"] == model) & (data["seq"] == seq)].sort_values("method", ascending=False)
    data = data.reset_index(drop=True)
    fig, axes = _method_rows(len(data))
    colours = {"forward": "#4c72b0", "loss": "#999999", "backward": "#dd8452", "optimizer": "#c44e52", "open": "#55a868"}
    labels = bar_labels(data)
    for ax, kind in zip(axes, ("time", "bytes")):
        left = [0.0] * len(data)
        for phase, colour in colours.items():
            col = f"{phase}_{kind}_share"
            if col not in data:
                continue
            vals = data[col].fillna(0).tolist()
            ax.barh(labels, vals, left=left, color=colour, label=phase)
            left = [b + v for b, v in zip(left, vals)]
        ax.set_xlabel(f"share of {'estimated ' + link + ' time' if kind == 'time' else 'online bytes'}")
        ax.set_xlim(0, 1)
    axes[0].tick_params(axis="y", labelsize=8)
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=5, fontsize=8)
    fig.suptitle(f"Where one tuning step pays: {model}, L={int(seq)}")
    return fig


def plot_step_costs(df: pd.DataFrame, model: str | None = None, seq: int | None = None,
                    links=("lan", "wan200", "wan100")):
    """Estimated seconds per step under each link and GB per step, per method (log scale)."""
    table = step_table(df, links)
    if model is None or seq is None:
        model, seq = headline_config(table)
    table = table[(table["model"] == model) & (table["seq"] == seq)].sort_values("method", ascending=False)
    table = table.reset_index(drop=True)
    fig, axes = _method_rows(len(table))
    labels = bar_labels(table)
    height = 0.8 / len(links)
    unknown = table["lan_s"].isna().any() if "lan_s" in table else True
    for i, ln in enumerate(links):
        # a record without time with compute (a noisy extrapolation) shows its network-only time
        network = [network_seconds(r, b * 1e9, LINK_PROFILES[ln], duplex="half") for r, b in zip(table["rounds"], table["GB"])]
        axes[0].barh([y + (i - (len(links) - 1) / 2) * height for y in range(len(table))],
                     table[f"{ln}_s"].fillna(pd.Series(network, index=table.index)), height=height, label=ln)
    axes[0].set_yticks(range(len(table)), labels, fontsize=8)
    axes[0].set_xscale("log")
    axes[0].set_xlabel("estimated seconds per step" + (" (network-only where this machine's compute is unknown)"
                                                       if unknown else ""))
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncol=len(links), fontsize=8)
    axes[1].barh(range(len(table)), table["GB"], color="#8172b3")
    axes[1].set_xscale("log")
    axes[1].set_xlabel("online GB per step")
    fig.suptitle(f"One tuning step in 2PC: {model}, L={int(seq)} (FoT: one candidate)")
    return fig
