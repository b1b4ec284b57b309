"""The paper's efficiency table beside ours (imported figures: :mod:`secfwt.paper`), per block, amortised, in prose."""

from __future__ import annotations

import re

import pandas as pd

from .. import paper as publication
from ..links import PROFILES as LINK_PROFILES
from ..links import network_seconds
from ..variants import FIXED_INPUT, FOT, SFT, WEIGHT_MASK
from .accuracy import AMORTISING_PARAMS, VARIANT_PARAMS
from .frame import as_number, markdown, measured_rows, narrow
from .steps import ADAM_DEFAULTS, DEEP_PROMPT_LABEL, adam_choice, adam_text, method_label, sft_baseline_label, step_table

PAPER_ORDER = ["SFT", "SFT (SGD)", "Prompt tuning", DEEP_PROMPT_LABEL, "LoRA", "FoT (softmax)", "FoT (RFA)"]


def paper_table(df: pd.DataFrame, model: str = publication.MODEL, seq: int = publication.SEQ) -> pd.DataFrame:
    """The paper's efficiency table (:data:`secfwt.paper.SHAPE`) with this suite's figures beside it:
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
        published = publication.STEP.get(_paper_key(r["method"]), (None, None))
        paper_s, paper_gb = published
        row = {"method": r["method"], "adam": r["adam"], "GB": r["GB"], "offline_GB": r["offline_GB"],
               "rounds": r["rounds"], "compute_s": r["compute_s"],
               # the network alone (rounds x latency + carried bytes / bandwidth), no compute
               "lan_net_half_s": network_seconds(r["rounds"], r["GB"] * 1e9, lan, duplex="half"),
               "lan_net_full_s": network_seconds(r["rounds"], r["GB"] * 1e9, lan, r["duplex_GB"] * 1e9, "full"),
               "lan_s": r["lan_s"], "wan200_s": r["wan200_s"], "wan100_s": r["wan100_s"],
               "paper_lan_s": paper_s, "paper_GB": paper_gb, "cpu": r["cpu"],
               # the time the published bytes alone need on the published link: all on one pipe
               # (half duplex), or split evenly over both directions (full duplex: CrypTen's openings are
               # symmetric)
               "paper_GB_half_s": paper_gb * 1e9 * 8 / lan.bandwidth_bps if paper_gb else None,
               "paper_GB_full_s": paper_gb * 1e9 * 8 / 2 / lan.bandwidth_bps if paper_gb else None}
        rows.append(row)
    out = pd.DataFrame(rows)
    base = out[out["method"] == sft_baseline_label(df)]
    if len(base):
        b = base.iloc[0]
        # counts and the network time they imply only: the times with compute come from different runs on
        # a shared machine (and from 0- and 1-block runs extrapolated), too noisy for a ratio
        for col in ("GB", "offline_GB", "lan_net_half_s", "lan_net_full_s"):
            out[f"{col}_SFT_over"] = b[col] / out[col]
        out["paper_s_SFT_over"] = [publication.STEP["SFT"][0] / v if v else None for v in out["paper_lan_s"]]
        out["paper_GB_SFT_over"] = [publication.STEP["SFT"][1] / v if v else None for v in out["paper_GB"]]
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
    data = measured_rows(df, "step")
    if data.empty or "weight_masks" not in data:
        return pd.DataFrame()
    data = data[(data["method"] == FOT) & (data["fot_mode"] == "sequential")]
    keys = ["model", "seq", "batch", "attention"] + [k for k in ("prompt_tokens", "task") if k in data] + [k for k in VARIANT_PARAMS
                                                                       if k in data and k not in AMORTISING_PARAMS]
    rows = []
    for cfg, g in data.groupby(keys, dropna=False):
        masks = g["weight_masks"].fillna(WEIGHT_MASK.default)
        inputs = g["fixed_inputs"].fillna(FIXED_INPUT.default) if "fixed_inputs" in g else \
            pd.Series(FIXED_INPUT.default, g.index)
        fresh = g[(masks == WEIGHT_MASK.default) & (inputs == FIXED_INPUT.default)]
        amortised = g[(masks != WEIGHT_MASK.default) & (inputs != FIXED_INPUT.default)]
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


#: the amortisation table's columns in the README (the whole table is in tables/)
AMORTISATION_VIEW = ("method", "model", "seq", "fresh_GB", "amortised_GB", "one_time_GB", "fresh_rounds",
                     "amortised_rounds", "break_even_GB", "break_even_wan100")


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
             narrow(table, AMORTISATION_VIEW, "amortisation"), ""]
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
    (both prompt-tuning variants sit beside the paper's one prompt-tuning figure); a configuration with
    variants the paper did not measure (' + RFA', ' + fourier GeLU'...) compares with none."""
    if " + " in re.sub(r" \[[^\]]*\]", "", label):
        return label
    for base in sorted(publication.STEP, key=len, reverse=True):
        if label == base or label.startswith(base + " ["):
            return base
    return "Prompt tuning" if label == DEEP_PROMPT_LABEL else label


def block_table(df: pd.DataFrame, model: str = publication.MODEL, seq: int = publication.SEQ) -> pd.DataFrame:
    """One encoder block of a FoT candidate's forward at the paper's shape, per variant: rounds, online
    and offline GB, network-only LAN seconds (half and full duplex), and its share of the candidate."""
    data = measured_rows(df, "step")
    if data.empty or "block_bytes" not in data:
        return pd.DataFrame()
    data = data[(data["method"] == FOT) & (data["model"] == model) & (data["seq"] == seq)
                & (data["fot_mode"] == "sequential") & data["block_bytes"].notna()]
    lan = LINK_PROFILES["lan"]
    rows = []
    for _, r in data.iterrows():
        n = r["population"]  # a sequential generation runs every block once per candidate
        rounds, nbytes, duplex = r["block_rounds"] / n, r["block_bytes"] / n, as_number(r.get("block_duplex_bytes")) / n
        rows.append({"method": method_label(r), "block_rounds": rounds, "block_GB": nbytes / 1e9,
                     "block_offline_GB": r["block_offline_bytes"] / n / 1e9,
                     "block_lan_net_half_s": network_seconds(rounds, nbytes, lan, duplex="half"),
                     "block_lan_net_full_s": network_seconds(rounds, nbytes, lan, duplex, "full"),
                     "blocks_share_of_candidate_GB": r["block_bytes"] * r["layers"] / r["bytes"]})
    return pd.DataFrame(rows).sort_values("block_GB", ascending=False).reset_index(drop=True) if rows \
        else pd.DataFrame()


#: the 2 x 2 of best against best at the paper's shape: the nonlinearities beside the paper's (the
#: variants :data:`secfwt.profiles.BEYOND_PAPER` measures at that shape for both methods)
CHEAP_NONLINEARITIES = " + fourier GeLU + fused QKV"


def two_by_two_table(df: pd.DataFrame, links=("lan", "wan200", "wan100")) -> pd.DataFrame:
    """{SFT, FoT} x {softmax, RFA} at the paper's shape, each with the paper's nonlinearities (tanh GeLU,
    separate QKV) and with the cheap ones: online and offline GB, rounds, network-only seconds per
    link (half duplex) and LAN seconds with this machine's compute.  SFT is Adam at its chosen setting;
    a FoT step is one candidate's forward.  Cells not measured are left out."""
    paper = paper_table(df)
    if paper.empty:
        return paper
    sft = sft_baseline_label(df)
    cells = []
    for method, attention, label in (("SFT", "softmax", sft), ("SFT", "RFA", sft + " + RFA"),
                                     ("FoT", "softmax", "FoT (softmax)"), ("FoT", "RFA", "FoT (RFA)")):
        for nonlinear, suffix in (("paper", ""), ("cheap", CHEAP_NONLINEARITIES)):
            row = paper[paper["method"] == label + suffix]
            if row.empty:
                continue
            r = row.iloc[0]
            cell = {"method": method, "attention": attention, "nonlinearities": nonlinear,
                    "configuration": label + suffix, "GB": r["GB"], "offline_GB": r["offline_GB"], "rounds": r["rounds"]}
            for name in links:
                cell[f"{name}_net_s"] = network_seconds(r["rounds"], r["GB"] * 1e9, LINK_PROFILES[name], duplex="half")
            cell["lan_s"] = r["lan_s"]
            cells.append(cell)
    return pd.DataFrame(cells)


#: two orders of taking the paper's tricks, as (what the step buys, from cell, to cell); cells are
#: (method, attention, nonlinearities).  The ratios compose multiplicatively, so each order's steps
#: multiply to the same total; the order decides how much each step is credited with
TRICK_PATHS = {
    "forward-only first (the paper's order)": (
        ("forward-only tuning", ("SFT", "softmax", "paper"), ("FoT", "softmax", "paper")),
        ("RFA", ("FoT", "softmax", "paper"), ("FoT", "RFA", "paper")),
        ("cheap nonlinearities", ("FoT", "RFA", "paper"), ("FoT", "RFA", "cheap"))),
    "protocols first (SFT gets every trick it can use)": (
        ("RFA", ("SFT", "softmax", "paper"), ("SFT", "RFA", "paper")),
        ("cheap nonlinearities", ("SFT", "RFA", "paper"), ("SFT", "RFA", "cheap")),
        ("forward-only tuning", ("SFT", "RFA", "cheap"), ("FoT", "RFA", "cheap"))),
}


def trick_ratios(two_by_two: pd.DataFrame, links=("lan", "wan200", "wan100")) -> pd.DataFrame:
    """How much of SFT's per-step cost over FoT+RFA's each trick buys, along each order of
    :data:`TRICK_PATHS`: the before/after ratio of online and offline GB, rounds and network-only
    seconds per link.  A missing middle cell merges its two steps into one ('RFA and cheap
    nonlinearities'); an order is left out where an end is missing."""
    if two_by_two.empty:
        return two_by_two
    cell = {(r["method"], r["attention"], r["nonlinearities"]): r for _, r in two_by_two.iterrows()}
    metrics = ["GB", "offline_GB", "rounds"] + [f"{name}_net_s" for name in links]
    rows = []
    for path, steps in TRICK_PATHS.items():
        start, end = steps[0][1], steps[-1][2]
        if start not in cell or end not in cell:
            continue
        merged, pending, at = [], [], start
        for what, _, b in steps:
            pending.append(what)
            if b in cell:
                merged.append((" and ".join(pending), at, b))
                pending, at = [], b
        for what, a, b in merged + [("all together", start, end)]:
            rows.append({"order": path, "step": what, "from": cell[a]["configuration"], "to": cell[b]["configuration"],
                         **{f"{m}_x": cell[a][m] / cell[b][m] for m in metrics}})
    return pd.DataFrame(rows)


def two_by_two_lines(df: pd.DataFrame) -> list[str]:
    """The 2 x 2 and what each trick buys, for the README (nothing without its cells)."""
    table = two_by_two_table(df)
    if table.empty:
        return []
    missing = [f"{m} + {a} ({n})" for m in ("SFT", "FoT") for a in ("softmax", "RFA") for n in ("paper", "cheap")
               if not ((table["method"] == m) & (table["attention"] == a) & (table["nonlinearities"] == n)).any()]
    lines = [f"### Best against best at {publication.SHAPE}: what forward-only tuning buys, and what the "
             "protocols buy", "",
             "The paper's 17x compares SFT with the paper's protocols against FoT with RFA: it takes forward-only "
             "tuning and the cheaper attention together. Here SFT may use RFA and the cheap nonlinearities too "
             "(their backward passes: `secfwt.mpc.cosine.sin_cos`, the Fourier GeLU's slope), so each trick's "
             "share of the ratio can be read off. `*_net_s`: network-only seconds, half duplex; `lan_s` adds this "
             "machine's measured compute (from different runs, extrapolated from 0 and 1 blocks: not compared).", "",
             markdown(table.drop(columns=["method", "attention", "nonlinearities"])), ""]
    ratios = trick_ratios(table)
    if len(ratios):
        lines += ["Before/after ratios of each step (x: how many times cheaper the step makes a tuning step):", "",
                  markdown(ratios[["order", "step", "GB_x", "offline_GB_x", "rounds_x", "lan_net_s_x",
                                   "wan100_net_s_x"]]), ""]
    if missing:
        lines += [f"Not measured yet: {', '.join(missing)} (`make bench PROFILE=paper`); a step across a missing "
                  "cell is shown merged.", ""]
    return lines


def projection_table(df: pd.DataFrame, links=("lan", "wan200", "wan100")) -> pd.DataFrame:
    """What one whole published tuning run costs at the paper's scale, per task and configuration: the
    measured price of one unit (a FoT generation, an SFT step; ``projection`` profile) times the
    published budget (:data:`secfwt.paper.BUDGETS`), plus what the run pays once.  A projection from
    published budgets, not a measured run: online and offline GB, rounds and network-only hours per
    link (half duplex). No time with compute: a unit's compute at 24 blocks, a whole batch and a whole
    population is extrapolated from runs thousands of times smaller, and its product terms amplify
    their timing noise (see :func:`projection_lines`)."""
    data = measured_rows(df, "step")
    if data.empty or "classes" not in data:
        return pd.DataFrame()
    rows = []
    for task, (train, _) in publication.FEW_SHOT_SHAPES.items():
        seq = publication.projection_seq(task)
        for budget in publication.BUDGETS:
            unit_seq, unit_batch = (publication.PROMPT_TOKENS + seq, train) if budget.method == FOT else (seq, budget.batch)
            sub = data[(data["model"] == publication.MODEL) & (data["method"] == budget.method)
                       & (data["seq"] == unit_seq) & (data["batch"] == unit_batch)
                       & (data["task"].fillna("synthetic") == "synthetic")]
            if budget.method == FOT:
                sub = sub[(sub["fot_mode"] == "batched") & (sub["population"] == budget.population)]
            for _, r in sub.iterrows():
                once = {c: _paid_once(r, c) for c in ("rounds", "bytes", "offline_bytes")}
                rounds = budget.units * r["rounds"] + once["rounds"]
                nbytes = budget.units * r["bytes"] + once["bytes"]
                row = {"task": task, "seq": unit_seq, "configuration": method_label(r), "budget": budget.name,
                       "units": budget.units, "unit_GB": r["bytes"] / 1e9, "GB": nbytes / 1e9,
                       "offline_GB": (budget.units * r["offline_bytes"] + once["offline_bytes"]) / 1e9,
                       "rounds": rounds}
                for name in links:
                    row[f"{name}_net_h"] = network_seconds(rounds, nbytes, LINK_PROFILES[name], duplex="half") / 3600
                row["source"] = budget.source
                rows.append(row)
    return pd.DataFrame(rows)


def _paid_once(row, counter: str) -> float:
    """What a record's run pays once (``one_time_<counter>``; 0 for a run that amortises nothing)."""
    value = row.get(f"one_time_{counter}")
    return 0.0 if value is None or pd.isna(value) else float(value)


def projection_lines(df: pd.DataFrame) -> list[str]:
    """The projection table for the README, labelled as a projection, with its sources."""
    table = projection_table(df)
    if table.empty:
        return []
    sources = sorted(set(table["source"]))
    return [f"### What a whole published tuning run would cost at {publication.MODEL_NAME} (a projection)", "",
            f"Not a measured run: the measured price of one unit at each task's 16-shot shape ({publication.MODEL_NAME}, the "
            "training set padded to its longest example: `secfwt.paper.FEW_SHOT_SHAPES`) times the budget the "
            "method's paper publishes, plus what the run pays once. FoT's unit is a generation (the whole "
            "population over the whole training set, batched), SFT's an Adam step of batch 8; network-only "
            "hours, half duplex. Evaluations on dev and test are not counted. No time with compute: a unit's "
            "compute is extrapolated from runs of 0 and 1 blocks, 1 and 2 rows, 2 and 3 candidates, and its "
            "product terms multiply differences of those runs' times by the product of the fractions to the "
            "full depth, batch and population (over ten thousand for a generation), so a few percent of timing "
            "noise, or a per-row cost that grows from 2 to 6 rows, moves it by a multiple. Counts, and so the "
            "network hours, are extrapolated exactly.", "",
            narrow(table.drop(columns=["source"]), PROJECTION_VIEW, "projection"), "", "Budgets:", "",
            *[f"- {s}" for s in sources], ""]


#: the projection table's columns in the README (the whole table, per-unit GB and every link, is
#: tables/projection)
PROJECTION_VIEW = ("task", "configuration", "budget", "GB", "offline_GB", "rounds", "lan_net_h", "wan200_net_h",
                   "wan100_net_h")


#: the paper table's columns in the README (the whole table, ratios too, is tables/paper_table)
PAPER_VIEW = ("method", "GB", "offline_GB", "rounds", "lan_net_half_s", "lan_net_full_s", "lan_s", "wan100_s",
              "paper_GB", "paper_lan_s")

#: a published GB figure counts as reproduced within this relative difference
REPRODUCED_WITHIN = 0.10


def paper_reproduction_lines(paper: pd.DataFrame, sft_label: str, clamp_bytes: float | None = None,
                             ffn_elements: int = publication.LAYERS * publication.SEQ * publication.FFN) -> list[str]:
    """In plain words: which published figures the suite reproduces, which it cannot, and why.
    ``clamp_bytes``: what the tanh GeLU's clamp adds per FFN element (``ffn_elements`` per forward
    at the paper's shape) when pretrained weights switch it on."""
    def gb(label):
        row = paper[paper["method"] == label]
        return None if row.empty else row.iloc[0]

    def published_row(base):  # SFT at CrypTen's Adam (like for like), else the chosen setting; other
        if base == "SFT":       # methods their own (not deep) row
            return gb("SFT") if gb("SFT") is not None else gb(sft_label)
        rows = paper[(paper["method"].map(_paper_key) == base) & ~paper["method"].str.startswith(DEEP_PROMPT_LABEL)]
        return None if rows.empty else rows.iloc[0]

    def verdict(nbytes, paper_gb):
        diff = nbytes / paper_gb - 1
        return f"({diff:+.0%}): {'reproduced' if abs(diff) <= REPRODUCED_WITHIN else 'not reproduced'}"

    extra = clamp_bytes * ffn_elements / 1e9 if clamp_bytes else None  # per forward, pretrained weights
    lines = ["### What the suite reproduces, and what it cannot", "",
             f"Every row is measured at seeded-random {publication.MODEL_NAME} weights (see *Weights*); "
             "a verdict says so.", ""]
    for base, (_, paper_gb) in publication.STEP.items():
        label = sft_label if base == "SFT" else base
        r = published_row(base)
        if r is None:
            continue
        text = f"- **{base}**: {r['GB']:,.1f} GB online against the published {paper_gb:,.1f} GB " \
               f"{verdict(r['GB'], paper_gb)} at random weights."
        if extra and base.startswith("FoT"):  # one forward per candidate: exactly one forward's clamp more
            text += f" With pretrained weights about {r['GB'] + extra:,.1f} GB {verdict(r['GB'] + extra, paper_gb)}."
        elif extra:
            text += f" Pretrained weights add at least the forward's {extra:.1f} GB."
        if base == "SFT":
            chosen = gb(sft_label)
            text += f" SFT's bytes are mostly Adam's, so they depend on its MPC settings (here {r['adam']}, " \
                    "CrypTen's)"
            if chosen is not None and label != "SFT" and r["method"] == "SFT":
                text += f"; at the setting this report compares against ({chosen['adam']}: the cheapest within " \
                        f"1 point of the most accurate, see the `adam` table) {chosen['GB']:,.1f} GB " \
                        f"({chosen['GB'] / paper_gb - 1:+.0%})"
            text += "."
        if base == "Prompt tuning":
            deep = paper[paper["method"].str.startswith(DEEP_PROMPT_LABEL)]
            deep = None if deep.empty else deep.iloc[0]
            if deep is not None:
                text += f" P-tuning v2 (prompts before every block, full backward) costs {deep['GB']:,.1f} GB: " \
                        "neither variant comes near. The published figure exceeds the paper's own SFT " \
                        f"({publication.STEP['SFT'][1]:,.1f} GB), which only a computation at least as large as SFT's " \
                        "explains, such as Adam over every weight or a longer sequence; the paper does not say."
        lines.append(text)
    rfa = gb("FoT (RFA)")
    rfa_s, rfa_gb = publication.STEP["FoT (RFA)"]
    if rfa is not None and extra:
        lines.append(f"- **Weights.** The paper rows use seeded-random {publication.MODEL_NAME} weights, whose FFN inputs never "
                     f"switch on the tanh GeLU's clamp. Pretrained weights do (MiniLM's do; tested): the clamp adds "
                     f"{clamp_bytes:,.0f} B per FFN element (the `gelu` table), {extra:.1f} GB per forward at "
                     f"{ffn_elements:,} FFN elements, so a pretrained {publication.MODEL_NAME} FoT+RFA candidate would cost "
                     f"about {rfa['GB'] + extra:.1f} GB (arithmetic on measured counts, not a run). The matches with "
                     "the published figures rest on random weights. The Fourier GeLU costs the same for any weights "
                     "(tested).")
    if rfa is not None:
        bw = publication.LINK.bandwidth_bps
        lines.append(f"- **Times** are not reproducible from the published bytes: {rfa_gb} GB alone need "
                     f"{rfa_gb * 1e9 * 8 / bw:.1f} s on {bw / 1e9:g} Gbps half duplex and "
                     f"{rfa_gb * 1e9 * 8 / 2 / bw:.1f} s full duplex, more than the {rfa_s} s published for "
                     "FoT+RFA; the paper's link or counting convention differs. "
                     f"Ours are estimates: {rfa['lan_net_half_s']:.1f} s (half) or {rfa['lan_net_full_s']:.1f} s "
                     "(full) of network time per FoT+RFA candidate, plus this machine's compute.")
    return lines + [""]


def depth_error_lines(df: pd.DataFrame) -> list[str]:
    """The label logits' MPC error at a pretrained model's full depth on real sentences, beside the
    error that extrapolated records carry (their deepest measured run's)."""
    data = measured_rows(df, "step")
    if data.empty or "task" not in data:
        return []
    full = data[(data["model"] == "minilm") & (data["layers"] == -1) & (data["task"] != "synthetic")
                & ~data["extrapolated"].astype(bool)]
    if full.empty:
        return []
    lines = ["### The MPC error at full depth", "",
             "Extrapolated records measure 1 or 2 blocks and carry the error of their deepest measured run "
             "(`checked_layers` in the records frame). At a pretrained model's full depth on real sentences "
             "(MiniLM, all 6 blocks, FoT forwards of the task's training sentences), the largest "
             "difference between an MPC label logit and the plaintext twin's:", ""]
    for _, r in full.sort_values(["attention", "task"]).iterrows():
        label = method_label(r)
        same = (data["model"] == "minilm") & data["extrapolated"].astype(bool) & (data["method"] == FOT) \
            & (data["attention"] == r["attention"]) & (data["task"] == r["task"])
        for name, (paper_choice, _) in VARIANT_PARAMS.items():  # every setting that makes a variant
            if name in data:
                same &= data[name].fillna(paper_choice) == (paper_choice if pd.isna(r.get(name)) else r[name])
        shallow = data[same]
        text = f"- {label}, {r['task']} ({int(r['batch'])} sentences x {int(r['population'])} candidates): " \
               f"{r['max_abs_err']:.2e} at L = {int(r['seq'])}"
        if r["status"] == "inaccurate":
            text += " (above the step's 5e-2 tolerance: the record says `inaccurate`)"
        if "fot_mode" in shallow:
            shallow = shallow[shallow["fot_mode"].fillna("batched") == "batched"]
        if len(shallow):  # the price of a whole generation (the most forwards), at the same length if any
            s0 = shallow.assign(same_seq=shallow["seq"] == r["seq"], forwards=shallow["batch"] * shallow["population"]) \
                .sort_values(["forwards", "same_seq"], ascending=False).iloc[0]
            text += f" (the extrapolated price record of a generation, {int(s0['batch'])} sentences x " \
                    f"{int(s0['population'])} candidates at L = {int(s0['seq'])}, measured at " \
                    f"{int(s0['checked_layers'])} block(s): {s0['max_abs_err']:.2e})"
        lines.append(text + ".")
    lines.append("")
    lines.append("Logits are scaled cosine similarities (|logit| <= 20); the sentence head's decisions are what "
                 "tuning uses, and the 2PC parity runs show identical CMA-ES rankings (see below).")
    return lines + [""]


def beyond_paper_lines(paper: pd.DataFrame, gelu: pd.DataFrame | None = None,
                       layernorm: pd.DataFrame | None = None) -> list[str]:
    """The paper's FoT rows beside the same rows with each set of beyond-the-paper variants (Fourier
    GeLU, fused QKV, fast inverse square root), per candidate at the paper's shape, against the
    published GB (:data:`secfwt.paper.STEP`); ``gelu`` and ``layernorm``: their tables, whose
    forward costs and errors the opening quotes."""
    lines = []
    for base in ("FoT (RFA)", "FoT (softmax)"):
        old = paper[paper["method"] == base]
        new = paper[paper["method"].str.startswith(base + " + ")]
        if old.empty or new.empty:
            continue
        o = old.iloc[0]
        published = publication.STEP[base][1]
        lines += [f"- **{n['method']}**: {n['GB']:.1f} GB online ({n['offline_GB']:.1f} GB offline"
                  + (", at random weights' score range: a pretrained model's needs more, see *One bert-base "
                     "forward*" if "lookup max" in n["method"] else "")
                  + f"), {n['rounds']:,.0f} rounds, {n['lan_net_half_s']:.1f} s of LAN network time per candidate, "
                  f"against {o['GB']:.1f} GB, {o['rounds']:,.0f} rounds and {o['lan_net_half_s']:.1f} s with the "
                  f"paper's nonlinearities ({o['GB'] / n['GB']:.2f}x fewer bytes, {o['rounds'] / n['rounds']:.2f}x "
                  f"fewer rounds; published: {published} GB)." for _, n in new.iterrows()]
    if lines:
        fourier = gelu[(gelu["impl"] == "fourier") & ~gelu["backward"].astype(bool)] if gelu is not None else None
        gelu_text = "see the `gelu` table"
        if fourier is not None and len(fourier):
            f = fourier.iloc[0]
            gelu_text = f"{int(f['rounds'])} rounds and {f['bytes_per_element']:.0f} B per element at |x| <= " \
                        f"{f['range']:g}, the `gelu` table"
        ln_text = "see the `layernorm` table"
        if layernorm is not None and {"fast", "crypten"} <= set(layernorm["impl"]):
            fast, stock = (layernorm[layernorm["impl"] == i].iloc[0] for i in ("fast", "crypten"))
            ln_text = f"{int(fast['rounds'])} rounds per LayerNorm instead of {int(stock['rounds'])}, largest " \
                      f"error {fast['max_abs_err']:.3f} against {stock['max_abs_err']:.3f}: the `layernorm` table"
        lines = ["### Beyond the paper: GeLU from one trig opening, fused QKV, a faster LayerNorm", "",
                 f"The paper leaves GeLU to future work. With the Fourier GeLU from one trig opening ({gelu_text}), "
                 "the query/key/value projections fused into one opening, and LayerNorm's fast inverse square "
                 f"root ({ln_text}):", ""] + lines + [""]
    return lines
