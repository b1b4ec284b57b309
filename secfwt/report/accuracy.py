"""Cost to reach an accuracy: tuning trajectories (``tune`` records) priced by MPC ``step`` records.

A ``tune`` record holds a plaintext-twin trajectory (test accuracy after so many units: CMA-ES
generations for FoT, optimiser steps otherwise).  The ``step`` record of the same task, method,
attention, sequence length and batch prices one unit in MPC (exact rounds and bytes,
extrapolated in depth and batch).  Cumulative cost after u units = u x the unit's cost; the
test and dev evaluations that monitor a run are not counted (monitoring, not training).

Pure functions of record lists and DataFrames; :func:`write` produces the figure, the tables
and the headline used by the report.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from .. import variants as attn  # the attention registry
from ..links import PROFILES as LINK_PROFILES
from ..links import Link, estimates, network_seconds
from ..results import compute_from_noise
from ..tuning.selection import select as select_checkpoint  # the runs' own rule (no torch)
from ..variants import LORA, PROMPT, SETTINGS, SFT, TRUNCATION
from . import plotting
from .frame import markdown, narrow


def base_label(method: str, attention: str | None = None) -> str:
    """A method's label from its registry entry (:data:`secfwt.variants.METHOD_REGISTRY`): forward-only
    tuning names its attention ('FoT (RFA)'), a gradient method does not (RFA is its variant)."""
    m = attn.method(method)
    if m.gradient:
        return m.label
    return f"{m.label} ({'RFA' if attn.is_rfa(attention or attn.SOFTMAX) else 'softmax'})"


#: methods in plot and table order, with the label each gets
METHOD_ORDER = [base_label(SFT), base_label(PROMPT), base_label(LORA), base_label(attn.FOT),
                base_label(attn.FOT, attn.RFA)]
#: the targets: these fractions of SFT's mean final test accuracy on the task (95% as MLPerf-style
#: time-to-quality tables often use; 100%: SFT's own accuracy, above the untuned head's)
TARGET_FRACTIONS = (0.95, 1.0)
LINKS = ("lan", "wan200", "wan100")


def method_label(params: dict, skip=()) -> str:
    """'FoT (RFA)', 'SFT', ... of a tune or step record's parameters, with its variants' suffix
    (without the parameters named in ``skip``)."""
    return base_label(params["method"], params.get("attention")) + variant_suffix(params, skip)


#: MPCAdam's settings of every record before they were parameters (labels omit them), and the ones
#: the tuning runs are priced at (the accuracy and claims profiles' steps)
ADAM_DEFAULTS = {"adam_sqrt_iters": 10, "adam_recip_iters": 10, "adam_positive": False}
#: parameters that select a variant of the same computation (its own row and label wherever costs
#: or accuracies are compared): name -> (the paper's own value, what a label calls the parameter)
VARIANT_PARAMS = {s.param: (s.default, s.noun) for s in SETTINGS.values()}
#: variants that pay part of a run's cost once per run (``one_time`` in the record)
AMORTISING_PARAMS = ("weight_masks", "fixed_inputs")
#: variants that change what MPC pays, not the plaintext twin's function (LayerNorm's exact there
#: either way; exact truncation is what the twin assumes): a tuning trajectory is priced by every one
PRICE_ONLY_PARAMS = AMORTISING_PARAMS + ("inv_sqrt", TRUNCATION.param)


def variant_suffix(params, skip=()) -> str:
    """' + fourier GeLU + fused QKV' for the beyond-the-paper variants ('' for the paper's own),
    leaving out the parameters named in ``skip``.  A gradient method with RFA gets ' + RFA' first
    (it adapts its weights to the approximation: a variant of its own; FoT names its attention in
    its label); a softmax other than the paper's says which ('+ lookup max')."""
    method_name = params.get("method")
    attention = params.get("attention")
    rfa = isinstance(method_name, str) and attn.method(method_name).gradient and isinstance(attention, str) \
        and attn.is_rfa(attention)
    extra = ["RFA"] if rfa and "attention" not in skip else []
    if isinstance(attention, str) and "attention" not in skip and not attn.is_rfa(attention) \
            and attn.lookup(attention).name != attn.SOFTMAX:  # a softmax other than the paper's
        extra.append(attn.lookup(attention).label)
    extra += [f"{params.get(name)} {noun}" for name, (paper, noun) in VARIANT_PARAMS.items()
              if name not in skip and isinstance(params.get(name), str) and params.get(name) != paper]
    return "".join(f" + {e}" for e in extra)


def paper_forward(params: dict) -> bool:
    """Whether a run computes the paper's own model (softmax attention, no variant that changes the
    plaintext function): the runs whose zero-shot accuracy is *the* untuned head of their seed."""
    return rfa_forward(params) is None and variant_suffix(params, skip=PRICE_ONLY_PARAMS) == ""


def rfa_forward(params: dict) -> bool | None:
    """None for a run with softmax attention; for one with RFA, whether RFA is all that differs from the
    paper's own model (price-only variants aside)."""
    attention = params.get("attention")
    if not (isinstance(attention, str) and attn.is_rfa(attention)):
        return None
    return variant_suffix(params, skip=PRICE_ONLY_PARAMS + ("attention",)) == ""


def method_rank(label: str) -> tuple[float, str]:
    """Position in METHOD_ORDER; a variant sorts right after its base method, variants of one method
    by name (a total order: plots and tables do not depend on set order, which varies per process)."""
    for i, base in sorted(enumerate(METHOD_ORDER), key=lambda t: -len(t[1])):
        if label == base:
            return float(i), label
        if label.startswith(base + " + "):
            return i + 0.5, label
    return float(len(METHOD_ORDER)), label


def tune_records(records: list[dict]) -> list[dict]:
    """Finished tune records, one per task, method and seed: the run of the largest budget (the
    quick profile's tiny smoke runs never mix with a profile's real ones; a longer run of a seed
    supersedes a shorter one), of equal budgets the one with stored test predictions, then the later."""
    best: dict = {}
    for order, r in enumerate(records):
        if r.get("workload") != "tune" or r.get("status") != "ok":
            continue
        key = (r["params"]["task"], method_label(r["params"]), r["params"]["seed"])
        rank = (r["params"]["budget"], has_predictions(r), order)
        if key not in best or rank > best[key][0]:
            best[key] = (rank, r)
    return [r for _, r in best.values()]


def has_predictions(record: dict) -> bool:
    """The record's checkpoints carry their test predictions (bootstrap intervals need them)."""
    return all("test_pred" in row for row in record.get("trajectory", [])) and bool(record.get("trajectory"))


def common_budgets(records: list[dict]) -> dict:
    """(task, method label) -> the largest budget every seed's run reaches: where seeds compare."""
    out: dict = {}
    for r in records:
        key = (r["params"]["task"], method_label(r["params"]))
        out[key] = min(out.get(key, r["params"]["budget"]), r["params"]["budget"])
    return out


def trajectories(records: list[dict]) -> pd.DataFrame:
    """One row per checkpoint of every finished tune record, with the shape of its unit (what a
    step record must match to price it: :func:`unit_shape`)."""
    rows = []
    for r in tune_records(records):
        p = r["params"]
        shape = unit_shape(p["method"], r.get("batch") if attn.method(p["method"]).gradient else r.get("train_size"),
                           p.get("population"))
        for point in r["trajectory"]:
            rows.append({"task": p["task"], "method": method_label(p),
                         "seed": p["seed"], "unit": r["unit"], **shape, **point})
    return pd.DataFrame(rows)


def _generations(name: str) -> bool:
    """The method's unit is a CMA-ES generation (forward only), not a gradient step."""
    return not attn.method(name).gradient


def unit_shape(method_name: str, batch, population) -> dict:
    """What makes a step record the price of a run's unit: its batch (FoT: the whole training set)
    and, for FoT, its population (one generation).  A step at another shape (the paper profile's
    depth-error runs, the amortisation table's per-candidate runs) prices nothing here."""
    return {"unit_batch": int(batch) if batch is not None else -1,
            "unit_population": int(population) if _generations(method_name) and population is not None else -1}


def summaries(records: list[dict]) -> pd.DataFrame:
    """One row per tune record, at its method's common budget (:func:`common_budgets`): zero-shot,
    start, final (selected on dev within that budget) and last accuracy, and the final checkpoint's
    test predictions where stored (``final_pred``, ``zero_shot_pred``: one digit per test row), and
    whether the run computes the paper's own model (``paper_forward``: its zero-shot is the untuned head),
    whether it attends with RFA (``rfa``; ``rfa_forward``: with nothing else changed, so its zero-shot is the
    untuned head with RFA) and its method's softmax label (``softmax_base``: 'FoT (softmax)',
    'SFT'; what an RFA run is set against)."""
    tuned = tune_records(records)
    budgets = common_budgets(tuned)
    rows = []
    for r in tuned:
        p = r["params"]
        budget = budgets[(p["task"], method_label(p))]
        chosen = select_checkpoint(r["trajectory"], budget)
        last = max((row for row in r["trajectory"] if row["units"] <= budget), key=lambda row: row["units"])
        rfa = rfa_forward(p)
        rows.append({"task": p["task"], "method": method_label(p), "seed": p["seed"],
                     "budget": budget, "unit": r["unit"], "lr": r.get("lr"), "batch": r.get("batch"),
                     "population": p["population"] if _generations(p["method"]) else None,
                     "test_rows": p.get("test_rows", 0),
                     "paper_forward": paper_forward(p),
                     "rfa": rfa is not None, "rfa_forward": bool(rfa),
                     "softmax_base": base_label(p["method"]),
                     "zero_shot_acc": r["zero_shot_acc"], "start_acc": r["start_acc"],
                     "final_acc": chosen["test_acc"], "last_acc": last["test_acc"], "selected_units": chosen["units"],
                     "final_pred": chosen.get("test_pred"), "zero_shot_pred": r.get("zero_shot_pred"),
                     "tune_s": r.get("tune_s")})
    return pd.DataFrame(rows)


def unit_costs(records: list[dict], links=LINKS) -> pd.DataFrame:
    """MPC price per (task, method) from the step records measured at the runs' shapes: one unit
    (``rounds``, ``bytes``...) and, for runs that amortise work (persistent weight masks, cached
    inputs), what the run pays once (``one_time_*``; 0 otherwise).  ``trajectory`` names the tuning
    runs it prices: the label without price-only variants (:data:`PRICE_ONLY_PARAMS`)."""
    rows = []
    for r in records:
        p = r.get("params", {})
        if r.get("workload") != "step" or r.get("status") == "error" or p.get("task", "synthetic") == "synthetic":
            continue
        if _generations(p["method"]) and p.get("fot_mode") != "batched":
            continue  # a generation of the tuning runs is one batched forward
        if p.get("layers", -1) != -1:
            continue  # a point of a depth sweep (the paper profile's Adam sweep at 1 block) prices no whole run
        if not _generations(p["method"]) and p.get("optimizer") == "adam" \
                and any(p.get(k, v) != v for k, v in ADAM_DEFAULTS.items()):
            continue  # the runs are priced with MPCAdam's default settings, as the profiles measure them
        once = r.get("one_time") or {}
        row = {**unit_shape(p["method"], p["batch"], p.get("population")), "task": p["task"],
               "method": method_label(p), "trajectory": method_label(p, skip=PRICE_ONLY_PARAMS),
               "seq": p["seq"], "batch": p["batch"], "rounds": r["rounds"], "bytes": r["bytes"],
               "offline_bytes": r["offline_bytes"], "compute_s": r["compute_s"],
               "one_time_rounds": once.get("rounds", 0), "one_time_bytes": once.get("bytes", 0),
               "one_time_offline_bytes": once.get("offline_bytes", 0),
               "population": p["population"] if _generations(p["method"]) else None,
               "max_abs_err": r.get("max_abs_err")}
        noise = compute_from_noise(r)  # no time with compute for it: network-only times stand
        if noise:
            row["compute_s"] = float("nan")
        for name in links:
            link = _link(r, name)
            row[f"est_s_{name}"] = float("nan") if noise else estimates(r, [link])[name]
            row[f"net_s_{name}"] = network_seconds(r["rounds"], r["bytes"], link)
            row[f"one_time_est_s_{name}"] = estimates(once, [link])[name] if once else 0.0
            row[f"one_time_net_s_{name}"] = network_seconds(once["rounds"], once["bytes"], link) if once else 0.0
        rows.append(row)
    frame = pd.DataFrame(rows)
    return frame.drop_duplicates(["task", "method", "unit_batch", "unit_population"], keep="last") if len(frame) \
        else frame


def _link(record: dict, name: str) -> Link:
    spec = (record.get("links") or {}).get(name)
    return Link(**spec) if spec else LINK_PROFILES[name]


def cost_curves(traj: pd.DataFrame, costs: pd.DataFrame, links=LINKS) -> pd.DataFrame:
    """Checkpoints with cumulative online GB, offline GB and estimated seconds per link: the run's
    one-time cost + units x the unit's cost.  A trajectory is priced by every step record of its
    method, price-only variants included (each its own curve)."""
    merged = traj.merge(costs.rename(columns={"method": "priced_as"}),
                        left_on=["task", "method", "unit_batch", "unit_population"],
                        right_on=["task", "trajectory", "unit_batch", "unit_population"], how="inner")
    merged["method"] = merged.pop("priced_as")
    merged = merged.drop(columns="trajectory")
    ran = (merged["units"] > 0).astype(float)  # a run of no unit pays nothing once either
    merged["online_GB"] = (ran * merged["one_time_bytes"] + merged["units"] * merged["bytes"]) / 1e9
    merged["offline_GB"] = (ran * merged["one_time_offline_bytes"] + merged["units"] * merged["offline_bytes"]) / 1e9
    for name in links:  # a run of no unit costs 0 s, even where a unit's time with compute is unknown (NaN)
        merged[f"s_{name}"] = (ran * merged[f"one_time_est_s_{name}"] + merged["units"] * merged[f"est_s_{name}"]) \
            .where(merged["units"] > 0, 0.0)
        merged[f"net_s_{name}"] = ran * merged[f"one_time_net_s_{name}"] + merged["units"] * merged[f"net_s_{name}"]
    return merged


def targets(summary: pd.DataFrame, fraction: float = TARGET_FRACTIONS[0]) -> dict:
    """Per task: fraction x SFT's mean final test accuracy (None without SFT runs)."""
    out = {}
    for task, sub in summary.groupby("task"):
        sft = sub[sub["method"] == "SFT"]["final_acc"]
        out[task] = fraction * sft.mean() if len(sft) else None
    return out


def cost_to_target(curves: pd.DataFrame, summary: pd.DataFrame, fraction: float = TARGET_FRACTIONS[0],
                   links=LINKS) -> pd.DataFrame:
    """Per task and method: how many seeds reach the target within the common budget (the largest
    every seed ran), and the mean cost of reaching it (over the seeds that do).  A seed reaches it at
    the first budget at which the run, stopped there, reports
    an accuracy at or above the target: its best-dev checkpoint so far (:func:`select_checkpoint`; the
    test split never chooses), so 0 units means the run's starting point already does.
    ``reached_at_end``: the seeds whose reported result at the common budget is at or above the
    target; a run can reach it early and end below it."""
    goal = targets(summary, fraction)
    rows = []
    for (task, method), sub in curves.groupby(["task", "method"]):
        target = goal.get(task)
        if target is None:
            continue
        seeds = sorted(sub["seed"].unique())
        common = min(sub[sub["seed"] == seed]["units"].max() for seed in seeds)
        hits, ends = [], 0
        for seed in seeds:  # within the common budget: a seed run further does not reach it later
            run = sub[(sub["seed"] == seed) & (sub["units"] <= common)].sort_values("units")
            reported = reported_accuracy(run)
            reached = run[reported >= target]
            if len(reached):
                hits.append(reached.iloc[0])
            ends += int(reported.iloc[-1] >= target)
        row = {"task": task, "method": method, "target": f"{fraction:.0%} of SFT", "target_acc": round(target, 4),
               "reached": f"{len(hits)}/{len(seeds)}", "reached_at_end": f"{ends}/{len(seeds)}"}
        if hits:
            hit = pd.DataFrame(hits)
            row["units"] = round(hit["units"].mean(), 1)  # a mean over seeds: one decimal
            row["online_GB"] = hit["online_GB"].mean()
            row["offline_GB"] = hit["offline_GB"].mean()
            for name in links:
                row[f"{name}_s"] = hit[f"s_{name}"].mean()
                row[f"{name}_net_s"] = hit[f"net_s_{name}"].mean()
        else:
            row["units"] = "not reached"
        rows.append(row)
    table = pd.DataFrame(rows)
    if len(table):
        table["order"] = table["method"].map(method_rank)
        table = table.sort_values(["task", "order"]).drop(columns="order")
    return table


def reported_accuracy(run: pd.DataFrame) -> pd.Series:
    """Per checkpoint of one run (sorted by units): the test accuracy the run would report if it
    stopped there, i.e. its best-dev checkpoint so far."""
    rows = run[["units", "dev_acc", "test_acc"]].to_dict("records")
    return pd.Series([select_checkpoint(rows, u)["test_acc"] for u in run["units"]], index=run.index)


def accuracy_table(summary: pd.DataFrame) -> pd.DataFrame:
    """Mean and spread over seeds of the start, final and last test accuracy per task and method."""
    if not len(summary):
        return summary
    g = summary.groupby(["task", "method"])
    table = pd.DataFrame({
        "seeds": g["seed"].nunique(), "budget": g["budget"].first(), "unit": g["unit"].first(),
        "zero_shot_acc": g["zero_shot_acc"].mean(), "start_acc": g["start_acc"].mean(),
        "final_acc_mean": g["final_acc"].mean(), "final_acc_std": g["final_acc"].std(ddof=0),
        "final_acc_min": g["final_acc"].min(), "final_acc_max": g["final_acc"].max(),
        "last_acc_mean": g["last_acc"].mean(),
    }).reset_index()
    table["order"] = table["method"].map(method_rank)
    return table.sort_values(["task", "order"]).drop(columns="order")


def plot_accuracy_vs_cost(curves: pd.DataFrame,
                          axes=("online_GB", "net_s_lan", "net_s_wan200", "net_s_wan100")):
    """Test accuracy (mean over seeds, band min..max) against cumulative cost, one curve per method
    (time axes: network-only seconds of the time model)."""
    plt = plotting.pyplot()
    tasks = sorted(curves["task"].unique())
    methods = sorted(set(curves["method"]), key=method_rank)
    palette = plt.get_cmap("tab20").colors  # one colour per method, the same in every panel
    style = {m: {"color": palette[(2 * k) % 20 + (k // 10) % 2], "ls": "--" if " + " in m else "-"}
             for k, m in enumerate(methods)}
    fig, grid = plt.subplots(len(tasks), len(axes), figsize=(4.2 * len(axes), 3.2 * len(tasks) + 1.2),
                             squeeze=False, constrained_layout=True)
    titles = {"online_GB": "online GB", "s_lan": "est. s, LAN", "s_wan200": "est. s, WAN-200",
              "s_wan100": "est. s, WAN-100", "net_s_lan": "network s, LAN", "net_s_wan200": "network s, WAN-200",
              "net_s_wan100": "network s, WAN-100"}
    for i, task in enumerate(tasks):
        for j, col in enumerate(axes):
            ax = grid[i][j]
            sub = curves[curves["task"] == task]
            for method in [m for m in methods if m in set(sub["method"])]:
                run = sub[sub["method"] == method]
                agg = run.groupby("units").agg(x=(col, "mean"), acc=("test_acc", "mean"), lo=("test_acc", "min"),
                                               hi=("test_acc", "max")).reset_index()
                x = agg["x"].clip(lower=1e-9)
                ax.plot(x, agg["acc"], marker="o", ms=3, label=method, **style[method])
                ax.fill_between(x, agg["lo"], agg["hi"], alpha=0.12, color=style[method]["color"])
            ax.set_xscale("symlog", linthresh=_linthresh(sub[col]))
            ax.set_xlabel(f"cumulative {titles.get(col, col)}")
            ax.set_ylabel(f"{task}: test accuracy" if j == 0 else "")
            ax.grid(alpha=0.3)
    handles = {h.get_label(): h for row in grid for ax in row for h in ax.get_lines()}
    fig.legend([handles[m] for m in methods if m in handles], [m for m in methods if m in handles],
               loc="outside lower center", ncol=3, fontsize=8)
    fig.suptitle("Test accuracy (mean over seeds, band: min to max) against what tuning has cost so far")
    return fig


def _linthresh(values: pd.Series) -> float:
    positive = values[values > 0]
    return float(positive.min()) if len(positive) else 1.0


def fot_gain_lines(acc: pd.DataFrame) -> list[str]:
    """What forward-only tuning gains, against both baselines it could be measured from: its own
    start (the head with the all-zero soft prompt in its slots) and the untuned head with no prompt."""
    if not len(acc):
        return []
    lines = []
    for _, r in acc[acc["method"].str.startswith("FoT")].iterrows():
        final = r["final_acc_mean"]
        lines.append(f"- {r['task']}, {r['method']}: {final:.3f}, {100 * (final - r['start_acc']):+.1f} points over "
                     f"its start ({r['start_acc']:.3f}) and {100 * (final - r['zero_shot_acc']):+.1f} against the "
                     f"untuned head without a prompt ({r['zero_shot_acc']:.3f}).")
    return lines


def headline(table: pd.DataFrame, links=LINKS) -> list[str]:
    """Plain sentences: is FoT cheaper end to end than SFT on each link, at each target accuracy?
    Network-only seconds (robust) and the estimate with this machine's compute are both given."""
    lines = []
    if table.empty:  # no run reached any target (or no trajectory matched a priced unit)
        return lines
    for (task, target_name), sub in table.groupby(["task", "target"], sort=False):
        by = {r["method"]: r for _, r in sub.iterrows()}
        sft = by.get("SFT")
        if sft is None:
            continue
        target = sft["target_acc"]
        head = f"- **{task}, target {target:.3f} ({target_name})**: "
        if not _every_seed(sft):
            lines.append(head + f"SFT itself does not reach it in every seed ({sft['reached']}); no comparison.")
            continue
        if sft["units"] == 0:
            sft_text = "SFT reaches it without any tuning step (the untuned head already does)"
        else:
            sft_times = ", ".join(f"{name} {sft[f'{name}_net_s']:,.0f} s" for name in links)
            sft_text = (f"SFT reaches it in {sft['reached']} seeds after {sft['units']:.0f} steps and "
                        f"{sft['online_GB']:,.0f} online GB ({sft_times} network-only)")
        parts = []
        for method in sorted((m for m in by if m.startswith("FoT")), key=method_rank):
            fot = by[method]
            if isinstance(fot["units"], str):
                parts.append(f"{method} does not reach it in any seed within its budget")
                continue
            times, every = [], _every_seed(fot)  # else a mean over the seeds that reach it: not set against SFT's
            for name in links:
                a, b = fot[f"{name}_net_s"], sft[f"{name}_net_s"]
                if not every:
                    times.append(f"{name} {a:,.0f} s network-only")
                    continue
                verdict = "the same" if math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9) else \
                    ("cheaper" if a < b else "dearer")
                times.append(f"{name} {a:,.0f} s vs {b:,.0f} s network-only ({verdict})")
            if not every:
                times[-1] += " (not set against SFT: not every seed reaches it)"
            parts.append(f"{method} reaches it in {fot['reached']} seeds after {fot['units']:.0f} generations and "
                         f"{fot['online_GB']:,.0f} online GB: " + "; ".join(times))
        lines.append(head + sft_text + ". " + ". ".join(parts) + ".")
    return lines


def _every_seed(row) -> bool:
    """Whether a cost-to-target row's method reaches the target in every seed ('3/3')."""
    if isinstance(row["units"], str):
        return False
    hit, of = row["reached"].split("/")
    return hit == of


def family(label: str) -> str:
    """The method a configuration belongs to: 'FoT' for every forward-only one, else its base label
    ('SFT + RFA + fourier GeLU' -> 'SFT')."""
    return "FoT" if label.startswith("FoT") else label.split(" + ")[0]


def best_against_best(table: pd.DataFrame, links=LINKS) -> pd.DataFrame:
    """Per task, target and link: each method's cheapest configuration (network-only seconds) among
    those that reach the target in every seed, beside its online GB; methods whose configurations all
    miss it in some seed are left out (they are in the cost-to-target table)."""
    rows = []
    if table.empty:
        return pd.DataFrame(rows)
    done = table[[not isinstance(u, str) and r.split("/")[0] == r.split("/")[1]
                  for u, r in zip(table["units"], table["reached"])]]
    for (task, target), sub in done.groupby(["task", "target"], sort=False):
        for name in links:
            for fam, g in sub.groupby(sub["method"].map(family), sort=False):
                best = g.loc[g[f"{name}_net_s"].astype(float).idxmin()]
                rows.append({"task": task, "target": target, "target_acc": best["target_acc"], "link": name,
                             "family": fam, "configuration": best["method"], "units": best["units"],
                             "online_GB": best["online_GB"], "net_s": best[f"{name}_net_s"]})
    out = pd.DataFrame(rows)
    if len(out):
        out["order"] = out["configuration"].map(method_rank)
        out["link_order"] = out["link"].map(list(links).index)
        out = out.sort_values(["task", "target", "link_order", "order"], kind="stable").drop(
            columns=["order", "link_order"])
    return out


def best_against_best_lines(best: pd.DataFrame) -> list[str]:
    """One sentence per task and target: on each link, the cheapest forward-only configuration against
    the cheapest gradient one, each named, and their ratio (or which side no configuration reaches)."""
    lines = []
    if best.empty:
        return lines

    def named(r):
        if r["units"] == 0:
            return f"{r['configuration']} (its starting point already reaches it, before any unit is run)"
        return f"{r['configuration']}, {r['net_s']:,.0f} s and {r['online_GB']:,.0f} GB"

    for (task, target), sub in best.groupby(["task", "target"], sort=False):
        head = f"- **{task}, {target} ({sub['target_acc'].iloc[0]:.3f})**: "
        fot, grad = sub[sub["family"] == "FoT"], sub[sub["family"] != "FoT"]
        if not len(fot) or not len(grad):
            side = grad if not len(fot) else fot
            r = side.loc[side["net_s"].astype(float).idxmin()]  # an untuned head's 0 s is the minimum
            lines.append(head + f"no {'FoT' if not len(fot) else 'gradient'} configuration reaches it in every "
                         f"seed; the best {'gradient method' if not len(fot) else 'FoT'} on {r['link']} is {named(r)}.")
            continue
        parts = []
        for name, per_link in sub.groupby("link", sort=False):
            f = per_link[per_link["family"] == "FoT"].iloc[0]
            g = per_link[per_link["family"] != "FoT"]
            g = g.loc[g["net_s"].astype(float).idxmin()]
            if f["net_s"] == 0 or g["net_s"] == 0:
                verdict = "a tie at no cost" if f["net_s"] == g["net_s"] == 0 else \
                    ("FoT wins" if f["net_s"] == 0 else "the gradient method wins")
            else:
                ratio = g["net_s"] / f["net_s"]
                verdict = f"FoT {ratio:,.1f}x cheaper" if ratio >= 1 else f"FoT {1 / ratio:,.1f}x dearer"
            parts.append(f"{name}: {named(f)} against {named(g)}: {verdict}")
        lines.append(head + "; ".join(parts) + ".")
    return lines


def _differing(disagreements: list[dict] | None) -> dict:
    """Of the test sentences MPC predicts differently from the exact twin: how many met a truncation
    failure, and how many lie on the decision boundary (the exact model's margin below the logit
    difference); NaN for records made before the owner named them."""
    if disagreements is None:
        return {"differing_wrapped": float("nan"), "differing_on_boundary": float("nan")}
    wrapped = [d["logit_err"] > TRUNCATION_WRAP_LOSS for d in disagreements]
    return {"differing_wrapped": sum(wrapped),
            "differing_on_boundary": sum(not w and d["exact_margin"] <= d["logit_err"]
                                         for d, w in zip(disagreements, wrapped))}


def parity_table(records: list[dict]) -> pd.DataFrame:
    """fot-mpc records: FoT in 2PC with a separate data owner against the plaintext twin."""
    rows = []
    for r in records:
        if r.get("workload") != "fot-mpc" or r.get("status") == "error":
            continue
        p = r["params"]
        audit = [row for rows in (r.get("reveal_audit") or {}).values() for row in rows]
        owner = r.get("owner_traffic") or {}
        owner_audit = r.get("owner_audit")
        rows.append({"task": p["task"], "attention": p["attention"],
                     "truncation": p.get(TRUNCATION.param, TRUNCATION.default), "layers": p["layers"],
                     "generations": p["generations"], "population": p["population"], "train_rows": p["train_rows"],
                     "seq": p["seq"], "loss_max_abs_err": r["loss_max_abs_err"],
                     "rankings_equal": r["rankings_equal"], "test_rows": r["test_rows"],
                     "test_offset": p.get("test_offset", 0),
                     "test_window": f"{p.get('test_offset', 0)}-{p.get('test_offset', 0) + r['test_rows'] - 1}",
                     "test_agreement": r["test_agreement"],
                     "test_logits_max_abs_err": float("nan") if r.get("test_logits_max_abs_err") is None
                     else r["test_logits_max_abs_err"],
                     **_differing(r.get("test_disagreements")),
                     "openings_audited": sum(row["openings"] for row in audit),
                     "plaintext_openings": sum(row["openings"] for row in audit if row["verdict"] == "plaintext"),
                     # the owner-channel audit ("-": a record made before it)
                     "owner_frames_audited": sum(row["frames"] for row in owner_audit) if owner_audit else "-",
                     "owner_frames_not_secret": sum(row["frames"] for row in owner_audit if not row["secret"])
                     if owner_audit else "-",
                     "owner_frames_in": owner.get("to_owner_messages"), "owner_bytes_in": owner.get("to_owner_bytes"),
                     "owner_bytes_out": owner.get("to_servers_bytes"),
                     "online_GB": r["bytes"] / 1e9, "offline_GB": r["offline_bytes"] / 1e9, "rounds": r["rounds"]})
    table = pd.DataFrame(rows)
    if len(table):  # both audits in one column for the README: plaintext openings / owner frames not secret
        table["audit_findings"] = [f"{a} / {b}" for a, b in zip(table["plaintext_openings"],
                                                                table["owner_frames_not_secret"])]
    return table


#: (kind, name) -> the README line of each figure and table :func:`write` makes
ARTIFACT_DESCRIPTIONS = {
    ("table", "fot_mpc_parity"): "FoT run in 2PC with a separate data owner against its plaintext twin: loss "
                                 "differences, CMA-ES rankings, test predictions, the reveal audit (openings "
                                 "between the servers) and the owner-channel audit (frames from the data owner).",
    ("table", "tuning_accuracy"): "Per task and method: zero-shot, starting and final test accuracy of the few-shot "
                                  "tuning runs (mean and spread over the seeds).",
    ("table", "tuning_unit_costs"): "MPC price of one unit (a CMA-ES generation or a gradient step) at the tuning "
                                    "runs' own shapes: counts, compute and seconds per link.",
    ("figure", "accuracy_vs_cost"): "Test accuracy against cumulative online GB and estimated seconds per link, "
                                    "per method (mean over seeds, min-max band).",
    ("table", "cost_to_target"): "Per task and method: units, online and offline GB and seconds to reach 95% and "
                                 "100% of SFT's final test accuracy, and how many seeds reach it.",
}


#: a loss this far from the twin's is a truncation failure (+-2^32 on one product), not fixed-point error
TRUNCATION_WRAP_LOSS = 1e6


#: what makes two parity runs the same run but for their truncation
PARITY_RUN = ("task", "attention", "truncation", "layers", "generations", "population", "train_rows", "seq",
              "test_rows", "test_offset")
#: what makes parity runs windows of one larger test set (they differ in their offset and size only)
WINDOWED_RUN = tuple(c for c in PARITY_RUN if c not in ("test_offset", "test_rows"))


def windowed_agreement(parity: pd.DataFrame) -> list[dict]:
    """Runs over consecutive windows of one task's test rows (the agreement profile), added up: per
    run, on how many of all its windows' test sentences the MPC prediction equals the exact twin's
    (``agree`` of ``n``), the rows covered, the largest loss difference and the plaintext openings."""
    if not len(parity) or parity["test_offset"].nunique() < 2:
        return []
    found = []
    for keys, runs in parity.groupby(list(WINDOWED_RUN), sort=False):
        runs = _disjoint_windows(runs.drop_duplicates("test_offset", keep="last"))
        if len(runs) < 2:
            continue
        first, last = int(runs["test_offset"].min()), int((runs["test_offset"] + runs["test_rows"]).max())
        found.append({**dict(zip(WINDOWED_RUN, keys)), "windows": len(runs), "first": first, "last": last,
                      "n": int(runs["test_rows"].sum()),
                      "agree": int(round((runs["test_agreement"] * runs["test_rows"]).sum())),
                      "loss_max_abs_err": float(runs["loss_max_abs_err"].max()),
                      "test_logits_max_abs_err": float(runs["test_logits_max_abs_err"].max()),
                      "wrapped_windows": int((runs["test_logits_max_abs_err"] > TRUNCATION_WRAP_LOSS).sum()),
                      # None where a window's record predates the owner naming its differing sentences
                      "differing_wrapped": None if runs["differing_wrapped"].isna().any()
                      else int(runs["differing_wrapped"].sum()),
                      "differing_on_boundary": None if runs["differing_on_boundary"].isna().any()
                      else int(runs["differing_on_boundary"].sum()),
                      "plaintext_openings": int(runs["plaintext_openings"].sum())})
    return found


def _disjoint_windows(runs: pd.DataFrame) -> pd.DataFrame:
    """The windows in offset order, each one starting at or after the end of the last one kept (no
    test sentence counted twice)."""
    runs = runs.sort_values("test_offset").reset_index(drop=True)
    kept, end = [], 0
    for i, r in runs.iterrows():
        if r["test_offset"] >= end:
            kept.append(i)
            end = r["test_offset"] + r["test_rows"]
    return runs.iloc[kept]


def _wrapped_text(run: dict) -> str:
    """What a windowed run's truncation failures in test logits did (counted as they came out), and
    why its sentences predicted differently did, where the records say."""
    if not run["wrapped_windows"]:
        text = f", largest test-logit difference {run['test_logits_max_abs_err']:.2g}"
    else:
        text = (f"; {run['wrapped_windows']} of its windows met a truncation failure in a test logit (largest "
                f"difference {run['test_logits_max_abs_err']:.2g}), its predictions counted as they came out")
    differing = run["n"] - run["agree"]
    if differing and run["differing_wrapped"] is not None:
        text += (f"; of the {differing} sentences predicted differently, {run['differing_wrapped']} met a truncation "
                 f"failure and {run['differing_on_boundary']} lie on the decision boundary (the exact model's margin "
                 "below the logit difference)")
    return text


def windowed_agreement_lines(parity: pd.DataFrame) -> list[str]:
    """:func:`windowed_agreement`, one line per run."""
    lines = []
    for run in windowed_agreement(parity):
        n, agree = run["n"], run["agree"]
        covered = "consecutive" if n == run["last"] - run["first"] else "not consecutive"
        lines.append(f"{run['task']}, `{run['attention']}`, {run['layers'] if run['layers'] >= 0 else 'all'} blocks, "
                     f"{run['windows']} windows of test rows {run['first']}-{run['last'] - 1} ({covered}): the MPC "
                     f"prediction equals the exact twin's on **{agree} of {n}** test sentences ({agree / n:.1%}); "
                     f"largest loss difference {run['loss_max_abs_err']:.2g}, plaintext openings "
                     f"{run['plaintext_openings']}" + _wrapped_text(run) + ".")
    return lines + [""] if lines else []


def exact_truncation_lines(parity: pd.DataFrame) -> list[str]:
    """Per run measured with both truncations: the exact one's largest loss difference and what it costs
    beside CrypTen's local one (same run, same shapes)."""
    if not len(parity):
        return []
    lines = []
    exact = parity[parity["truncation"] != TRUNCATION.default]
    local = parity[parity["truncation"] == TRUNCATION.default]
    for _, e in exact.iterrows():
        same_run = [c for c in PARITY_RUN if c != "truncation"]
        same = local[(local[same_run] == e[same_run]).all(axis=1)]
        if not len(same):
            continue
        b = same.iloc[-1]
        lines.append(
            f"The same {e['task']} run with `truncation=exact` (the dealer-assisted exact truncation, "
            f"`secfwt/mpc/truncation.py`): largest loss difference {e['loss_max_abs_err']:.2g} against "
            f"{b['loss_max_abs_err']:.2g} truncated locally, rankings equal: {bool(e['rankings_equal'])}, test "
            f"agreement {e['test_agreement']:.3f}; it costs {e['rounds']:,} rounds and {e['online_GB']:,.1f} GB online "
            f"against {b['rounds']:,} and {b['online_GB']:,.1f} ({e['rounds'] / b['rounds']:.2f}x, "
            f"{e['online_GB'] / b['online_GB']:.2f}x), offline {e['offline_GB']:,.1f} GB against "
            f"{b['offline_GB']:,.1f}.")
    return lines + [""] if lines else []


def truncation_risk_lines(parity: pd.DataFrame, summary: pd.DataFrame, traj: pd.DataFrame) -> list[str]:
    """How often CrypTen's local truncation failed at full depth in the parity runs (failures per
    example forward: a lower bound, a flagged loss or test-logit maximum counts once), and what that
    rate means for one FoT tuning run of the profiles: the trajectories are the plaintext twin's."""
    if not len(parity) or not len(summary) or not len(traj):
        return []
    deep = parity[(parity["layers"] == -1) & (parity["truncation"] == TRUNCATION.default)]
    if not len(deep):
        return []
    forwards = int((deep["generations"] * deep["population"] * deep["train_rows"] + deep["test_rows"]).sum())
    failures = int((deep["loss_max_abs_err"] > TRUNCATION_WRAP_LOSS).sum()
                   + (deep["test_logits_max_abs_err"] > TRUNCATION_WRAP_LOSS).sum())
    if not failures:
        return [f"At full depth with CrypTen's local truncation the parity runs above met no truncation failure in "
                f"{forwards:,} example forwards (training losses and test logits).", ""]
    rate = failures / forwards
    runs = []
    fot = summary[summary["method"] == base_label(attn.FOT)]
    for task, sub in fot.groupby("task"):
        shape = traj[(traj["task"] == task) & (traj["method"] == base_label(attn.FOT))].iloc[0]
        units = int(sub["budget"].iloc[0])
        n = units * int(shape["unit_population"]) * int(shape["unit_batch"])
        runs.append(f"about {n * rate:,.0f} in {task}'s {n:,} ({units} x {int(shape['unit_population'])} x "
                    f"{int(shape['unit_batch'])})")
    rate_text = (f"At full depth with CrypTen's local truncation (the paper's setting, and the one the unit "
                 f"prices below are measured at) the parity runs above met at least {failures} truncation "
                 f"failure(s) in {forwards:,} example forwards (training losses and test logits): about 1 in "
                 f"{1 / rate:,.0f} (`python -m secfwt.truncation` computes the expected count analytically: see "
                 "the README).")
    if not runs:
        return [rate_text, ""]
    return [rate_text + " At that rate one FoT tuning run of the profiles would meet (forwards: generations x "
            "candidates x training examples) " + "; ".join(runs) + ": each moves one candidate's loss by ~1e9, to "
            "one end of CMA-ES's ranking, or spoils one test logit. The trajectories and accuracies below are the "
            "plaintext twin's, i.e. what a run with exact truncation computes (the `truncation=exact` line above: "
            "same rankings, losses within its fixed-point error); its price is the exact truncation's (the ratios "
            "in that line), not the local one's.", ""]


#: the columns of each table the README shows (the whole tables are in tables/)
PARITY_VIEW = ("task", "attention", "truncation", "layers", "generations", "test_window", "loss_max_abs_err",
               "rankings_equal", "test_agreement", "audit_findings")
ACCURACY_VIEW = ("task", "method", "seeds", "budget", "zero_shot_acc", "start_acc", "final_acc_mean",
                 "final_acc_std", "last_acc_mean")
UNIT_COST_VIEW = ("task", "method", "seq", "batch", "rounds", "bytes", "offline_bytes", "net_s_lan", "net_s_wan200",
                  "net_s_wan100")
TARGET_VIEW = ("task", "method", "target", "reached", "reached_at_end", "units", "online_GB", "lan_net_s",
               "wan100_net_s")


def _md(table: pd.DataFrame) -> str:
    return markdown(table, floatfmt=".4g")


def write(records: list[dict], figures: Path, tables: Path) -> tuple[list[Path], list[str]]:
    """Figure and tables of the cost-to-accuracy analysis; returns (written paths, README lines)."""
    traj, summary, costs = trajectories(records), summaries(records), unit_costs(records)
    written, lines = [], []
    parity = parity_table(records)
    if len(parity):
        written += _table(parity, tables / "fot_mpc_parity")
        lines += ["## FoT in MPC against the plaintext twin", "",
                  "Forward-only tuning run in 2PC for a few generations with the data owner as its own process "
                  "(`fot-mpc`): the largest difference between a candidate's MPC loss and its plaintext-twin loss, "
                  "whether CMA-ES's ranking was identical in every generation (CMA-ES is rank-based: then the "
                  "trajectories are the same), the share of test sentences on which the tuned prompt's MPC "
                  "prediction equals the twin's, the reveal audit (openings between the servers whose values "
                  "look like plaintext: must be 0) and the owner-channel audit (frames from the data owner that do "
                  "not reach a server as a uniform share, uncorrelated with the owner's values and never completed "
                  "by another frame: must be 0; '-' for records made before it); `audit_findings` gives both, reveal / owner; "
                  "`test_window` the test rows.", "",
                  narrow(parity, PARITY_VIEW, "fot_mpc_parity", _md), ""]
    wrapped = parity[(parity["loss_max_abs_err"] > TRUNCATION_WRAP_LOSS)
                     | (parity["test_logits_max_abs_err"] > TRUNCATION_WRAP_LOSS)] if len(parity) else parity
    if len(wrapped):
        lines += [f"{len(wrapped)} run(s) above have a candidate's loss or a test sentence's logit off by more than "
                  f"{TRUNCATION_WRAP_LOSS:.0e}: the size of a two-party truncation failure, not of an approximation. "
                  "CrypTen truncates a product v locally in 2PC, which is off by +-2^32 with probability |v| / 2^32 "
                  "(2^22 products of 2^16 expect 64 failures, of 2^20 1,024: `tests/test_encoder.py` checks both "
                  "rates). A deep run truncates enough large products to meet one now and then; "
                  "it corrupts that candidate's loss (or that sentence's logits) only.", ""]
    lines += exact_truncation_lines(parity) + windowed_agreement_lines(parity)
    if not len(traj):
        return written, lines
    lines += truncation_risk_lines(parity, summary, traj)
    lines += ["## Cost to reach an accuracy", ""]
    acc = accuracy_table(summary)
    written += _table(acc, tables / "tuning_accuracy")
    lines += ["Few-shot tuning of pretrained all-MiniLM-L6-v2 (16 examples per class, data seeds "
              + ", ".join(map(str, sorted(summary["seed"].unique()))) + ": `seeds` gives each row's count). Head: "
              "the scaled cosine (x20) of the mean-pooled sentence embedding with each label description's "
              "embedding (SST-2: 'It was terrible.' / 'It was great.'; AG News: 'World news.', 'Sports news.', "
              "'Business news.', 'Science and technology news.'); for the pair tasks (MRPC, RTE) the scaled cosine "
              "of the two sentences' embeddings against a threshold chosen on train and dev. `zero_shot_acc`: that "
              "head with no prompt and no tuning; `start_acc`: the starting point of the run (FoT and prompt tuning "
              "start from an all-zero soft prompt, which moves the accuracy either way); `final_acc`: test accuracy "
              "at the checkpoint with the best 16-shot dev accuracy. "
              "Trajectories run in the plaintext twin (float32), which computes the MPC encoder's function without "
              "its truncation failures (see above); the MPC parity evidence is in the parity records and "
              "`tests/test_tuning_parity.py`.", "",
              narrow(acc, ACCURACY_VIEW, "tuning_accuracy", lambda t: markdown(t, floatfmt=".3f")), ""]
    lines += fot_gain_lines(acc) + [""]
    runs = set(traj[["task", "method", "unit_batch", "unit_population"]].itertuples(index=False, name=None))
    if len(costs):  # only the steps that price a tuning run (not the paper profile's other shapes)
        costs = costs[[key in runs for key in costs[["task", "trajectory", "unit_batch", "unit_population"]]
                       .itertuples(index=False, name=None)]]
    if len(costs):
        written += _table(costs, tables / "tuning_unit_costs")
        curves = cost_curves(traj, costs)
        written += plotting.save(plot_accuracy_vs_cost(curves), figures / "accuracy_vs_cost", dpi=110)
        table = pd.concat([cost_to_target(curves, summary, f) for f in TARGET_FRACTIONS], ignore_index=True)
        written += _table(table, tables / "cost_to_target")
        lines += ["MPC price of one unit at the runs' own shapes (one CMA-ES generation of the whole population "
                  "over the whole training set, batched; or one Adam step on a batch of 8), exact counts "
                  "extrapolated from 0/1 blocks and batches 1/2. `compute_s` is this machine's CPU, measured "
                  "under load and extrapolated: indicative only (it can even extrapolate to 0); `net_s_*` is "
                  "the time model's network term for the link from exact counts (almost all of it the bandwidth "
                  "term: see *The time model against emulated links* for what the emulated runs check).", "",
                  narrow(costs, UNIT_COST_VIEW, "tuning_unit_costs", _md), "",
                  "![accuracy_vs_cost](figures/accuracy_vs_cost.png)", "",
                  "Cost to reach a target test accuracy: a fraction of SFT's mean final accuracy over all its "
                  "seeds. A seed reaches it at the first checkpoint (within the largest budget every seed ran) at which "
                  "the run, stopped there, reports "
                  "it (its best-dev checkpoint so far: the test split never chooses); the cost is the mean over "
                  "the seeds that reach it; units 0: the run's starting point already does (the untuned head "
                  "for SFT and LoRA, the all-zero soft prompt for FoT and prompt tuning); `reached_at_end`: the "
                  "seeds still at or above it at the common budget; a `+ exact truncation` row prices the same "
                  "trajectory as an MPC run without truncation failures (the others: CrypTen's local "
                  "truncation); `units` are a checkpoint's (runs evaluate "
                  "every tenth or fifth of their budget), their mean over seeds can fall between two; `*_s` "
                  "includes this machine's compute, `*_net_s` is network only: rounds x 2 round trips + bytes x 8 / "
                  "bandwidth, half duplex; test and dev evaluations not "
                  "counted):", "",
                  narrow(table, TARGET_VIEW, "cost_to_target", _md), "", "**Headline** (network-only time).", ""]
        lines += headline(table) or ["- No method pair reached a comparable target yet."]
        lines.append("")
        best = best_against_best(table)
        if len(best):
            written += _table(best, tables / "best_against_best")
            lines += ["**Best against best** (network-only time): each method at its cheapest configuration among "
                      "those measured (the paper's protocols, RFA, the Fourier GeLU, fused QKV, the fast inverse "
                      "square root, persistent weight masks) that reaches the target in every seed; "
                      "`best_against_best` lists every method's.", ""]
            lines += best_against_best_lines(best) + [""]
    return written, lines


def _table(table: pd.DataFrame, stem: Path) -> list[Path]:
    csv, md = stem.with_suffix(".csv"), stem.with_suffix(".md")
    table.to_csv(csv, index=False)
    md.write_text(_md(table) + "\n")
    return [csv, md]
