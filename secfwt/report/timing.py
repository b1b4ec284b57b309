"""The time model against measurement (the ``emulation`` profile): each record run over an emulated
link (``emulated_link``, see :mod:`secfwt.mpc.emulate`) carries the wall time measured over it;
this puts the model's prediction for the same link beside it, before and after the correction.

* uncorrected: ``compute_s + rounds * latency + carried bytes * 8 / bandwidth`` (the model before it
  met a link: one latency per round);
* corrected: ``compute_s + offline_s + rounds * 2 * latency + carried bytes * 8 / bandwidth``:
  :data:`secfwt.links.ROUND_TRIPS_PER_ROUND` round trips per round, plus the time the parties
  waited on the dealer (``offline_s``: the dealer runs beside them on this machine and is on the
  critical path; the paper's model, and ``est_s``, leave the offline phase out).

Both use the record's own measured compute.  The measured time is the run's metered wall time
(the same span as ``compute_s``; process start and rendezvous excluded).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..links import ROUND_TRIPS_PER_ROUND, UNCORRECTED_ROUND_TRIPS, Link, network_seconds
from ..results import emulated_name
from . import plotting

#: the acceptance band of the corrected model (relative error of the prediction)
WITHIN = 0.15
#: the latency probe the round-trip count was read off (``op mul``: one round of a few KB, on every
#: link); every workload point is held out
CALIBRATION = "op"
CASE_PARAMS = ("op", "impl", "seq", "attention", "method", "model")


def emulated(records: list[dict]) -> list[dict]:
    return [r for r in records if emulated_name(r)]


def _case(r: dict) -> str:
    p = r["params"]
    return " ".join(f"{k}={p[k]}" for k in CASE_PARAMS if k in p)


def model_table(records: list[dict]) -> pd.DataFrame:
    """One row per run over an emulated link: counts, measured and predicted seconds, errors, and the
    round trips per round the measurement implies."""
    rows = []
    for r in emulated(records):
        if r.get("status") == "error":
            continue
        spec = r["emulated_link"]
        link = Link(spec["name"], spec["bandwidth_bps"], spec["latency_s"], spec["duplex"])
        net = {trips: network_seconds(r["rounds"], r["bytes"], link, r.get("duplex_bytes"), round_trips=trips)
               for trips in (UNCORRECTED_ROUND_TRIPS, ROUND_TRIPS_PER_ROUND)}
        serialise = network_seconds(0, r["bytes"], link, r.get("duplex_bytes"))
        offline = r.get("offline_s", 0.0)
        measured = r["wall_s"]
        uncorrected = r["compute_s"] + net[UNCORRECTED_ROUND_TRIPS]
        corrected = r["compute_s"] + offline + net[ROUND_TRIPS_PER_ROUND]
        rows.append({
            "link": link.name, "duplex": link.duplex, "workload": r["workload"], "case": _case(r),
            "rounds": r["rounds"], "MB": r["bytes"] / 1e6, "duplex_MB": (r.get("duplex_bytes") or 0) / 1e6,
            "compute_s": r["compute_s"], "offline_s": offline, "measured_s": measured,
            "uncorrected_s": uncorrected, "uncorrected_err": uncorrected / measured - 1,
            "corrected_s": corrected, "corrected_err": corrected / measured - 1,
            "round_trips_per_round": (measured - r["compute_s"] - offline - serialise) / (r["rounds"] * link.latency_s),
            "bandwidth_share": serialise / measured,  # the bandwidth term's share of the measured time
            "held_out": r["workload"] != CALIBRATION,
        })
    return pd.DataFrame(rows)


def plot_model(table: pd.DataFrame):
    """Predicted against measured seconds, log-log, before and after the correction, with the
    +-15% band around equality."""
    plt = plotting.pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 5.2))
    lo = min(table["measured_s"].min(), table["uncorrected_s"].min()) * 0.7
    hi = max(table["measured_s"].max(), table["corrected_s"].max()) * 1.4
    x = pd.Series([lo, hi])
    ax.plot(x, x, color="black", lw=1, label="prediction = measurement")
    ax.fill_between(x, x * (1 - WITHIN), x * (1 + WITHIN), color="0.85", label=f"+-{WITHIN:.0%}")
    markers = dict(zip(sorted(table["link"].unique()), "osD^v<>"))
    for link, sub in table.groupby("link"):
        m = markers[link]
        ax.scatter(sub["measured_s"], sub["uncorrected_s"], marker=m, facecolors="none", edgecolors="#c44e52",
                   label=f"uncorrected, {link}")
        ax.scatter(sub["measured_s"], sub["corrected_s"], marker=m, color="#4c72b0", label=f"corrected, {link}")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("measured wall seconds over the emulated link")
    ax.set_ylabel("time model's seconds for the same link")
    ax.set_title(f"time model vs emulated links ({len(table)} runs)", fontsize=10)
    ax.legend(fontsize=6, ncol=2, loc="upper left")
    return fig


def model_lines(table: pd.DataFrame) -> list[str]:
    """The README's summary: how far each model is off, and what the measurement says a round costs."""
    held, probe = table[table["held_out"]], table[~table["held_out"]]
    lines = [
        f"- {len(table)} runs over {table['link'].nunique()} emulated links ({', '.join(sorted(table['link'].unique()))}).",
        f"- Uncorrected model (one latency per round): error {table['uncorrected_err'].min():+.0%} to "
        f"{table['uncorrected_err'].max():+.0%}.",
    ]
    if len(held):
        worst = held.loc[held["corrected_err"].abs().idxmax()]
        lines.append(
            f"- Corrected model ({ROUND_TRIPS_PER_ROUND} round trips per round, plus the dealer waits), on the "
            f"{len(held)} workload points ({', '.join(sorted(held['workload'].unique()))}): error "
            f"{held['corrected_err'].min():+.1%} to {held['corrected_err'].max():+.1%}, the worst "
            f"{worst['workload']} {worst['case']} over {worst['link']}; "
            f"{int((held['corrected_err'].abs() <= WITHIN).sum())} of {len(held)} within +-{WITHIN:.0%}.")
    if len(probe):
        lines.append(f"- The latency probe ({CALIBRATION} mul: one round, {probe['measured_s'].min():.2f} to "
                     f"{probe['measured_s'].max():.2f} s), where the round-trip count was read off: corrected error "
                     f"{probe['corrected_err'].min():+.1%} to {probe['corrected_err'].max():+.1%} (a few ms of "
                     "scheduling on a 2-core machine is a large share of one round).")
    big = table.loc[table["bandwidth_share"].idxmax()]
    lines.append(f"- What these runs check: mostly the latency term. The bandwidth term (bytes x 8 / bandwidth) is a "
                 f"median {table['bandwidth_share'].median():.1%} of the measured time, at most "
                 f"{big['bandwidth_share']:.0%} ({big['MB']:,.0f} MB over {big['link']}, corrected error "
                 f"{big['corrected_err']:+.1%} there). A tuning run's estimate is almost all bandwidth term (tens of "
                 "GB a unit), which these links check only up to that size.")
    lines.append(f"- Round trips per round implied by the measurements: median "
                 f"{table['round_trips_per_round'].median():.2f} (range {table['round_trips_per_round'].min():.2f} "
                 f"to {table['round_trips_per_round'].max():.2f}).")
    return lines


FIGURE_DESCRIPTION = ("Measured wall seconds of runs over emulated links against the time model's prediction for "
                      "the same link, before (one latency per round) and after the correction (two round trips per "
                      "round, plus the dealer waits), with the +-15% band.")
DESCRIPTION = ("Every run over an emulated link: counts, measured compute and dealer waits, the measured wall "
               "time, the uncorrected model (one latency per round) and the corrected one (two round trips per "
               "round, plus the dealer waits) with their relative errors, the round trips per round the "
               "measurement implies, and the bandwidth term's share of the measured time.")


def write(records: list[dict], figs: Path, tables: Path) -> tuple[list[Path], list[str]]:
    """The model-vs-measurement table, figure and README lines (nothing when no record is emulated)."""
    table = model_table(records)
    if not len(table):
        return [], []
    table = table.sort_values(["link", "workload", "case"]).reset_index(drop=True)
    from .frame import write_table

    written = plotting.save(plot_model(table), figs / "time_model")
    written += write_table(table, tables / "time_model")
    return written, model_lines(table)
