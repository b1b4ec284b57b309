"""Tables and figures from stored records (pandas, matplotlib); no MPC is run here.

Plots are pure functions of a DataFrame and validate its columns first, so tests
can call them on small synthetic frames and assert on the data they plot.  Every
record file under ``reports/records/`` feeds the report; where two records measure
the same workload, parameters and provider, the newer one is used.

A package by topic (frame, attention, nonlinear, steps, versus_paper); this module lists every
artifact and writes the report."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from .. import paper as publication
from ..errors import InputError
from ..links import PROFILES as LINK_PROFILES
from ..links import ROUND_TRIPS_PER_ROUND
from ..results import Store, emulated_name
from . import plotting
from .attention import (
    attention_ratio_table,
    attention_scaling_data,
    attention_table,
    plot_attention_scaling,
    plot_rfa_error,
    rfa_error_data,
)
from .frame import latest_records, markdown, narrow, provenance, records_frame, write_table
from .nonlinear import clamp_cost_per_element, gelu_table, layernorm_table, ops_table, plot_nonlinear_costs, trig_table
from .steps import (
    DEEP_PROMPT_LABEL,
    adam_choice,
    adam_table,
    breakdown_data,
    fot_modes_table,
    method_label,
    plot_breakdown,
    plot_step_costs,
    sft_baseline_label,
    step_table,
)
from .versus_paper import (
    PAPER_VIEW,
    amortisation_lines,
    amortisation_table,
    beyond_paper_lines,
    block_table,
    depth_error_lines,
    paper_reproduction_lines,
    paper_table,
    projection_lines,
    projection_table,
    trick_ratios,
    two_by_two_lines,
    two_by_two_table,
)

#: what the report offers callers (the CLI, benchmarks, tests): every table and figure maker and the writer
__all__ = ["ARTIFACTS", "Artifact", "DEEP_PROMPT_LABEL", "FIGURE", "TABLE", "adam_choice", "adam_table",
           "amortisation_lines", "amortisation_table", "attention_ratio_table", "attention_scaling_data",
           "attention_table", "beyond_paper_lines", "block_table", "breakdown_data", "clamp_cost_per_element",
           "depth_error_lines", "descriptions", "fot_modes_table", "gelu_table", "latest_records", "layernorm_table",
           "load_records", "markdown", "method_label", "ops_table", "paper_reproduction_lines", "paper_table",
           "projection_lines", "projection_table", "trick_ratios", "two_by_two_lines", "two_by_two_table",
           "plot_attention_scaling", "plot_breakdown", "plot_nonlinear_costs", "plot_rfa_error", "plot_step_costs",
           "provenance", "readme", "records_frame", "rfa_error_data", "sft_baseline_label", "step_table",
           "trig_table", "write_report"]

FIGURE, TABLE = "figure", "table"
#: the provenance table's columns in the README (the whole table is in tables/provenance)
PROVENANCE_VIEW = ("workload", "provider", "security", "records", "cpu", "torch", "crypten", "commits", "git_sha",
                   "last")


def link_label(name: str) -> str:
    """How the prose names a link profile: lan -> LAN, wan200 -> WAN-200."""
    return re.sub(r"^([a-z]+)(\d+)$", r"\1-\2", name).upper()


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
#: analysis, :mod:`secfwt.report.accuracy`, and the time model, :mod:`secfwt.report.timing`, list their own)
ARTIFACTS = (
    Artifact("attention_scaling", FIGURE, "attention", plot_attention_scaling,
             "Online bytes, rounds and estimated LAN / WAN-100 time of the attention core against the sequence"
             " length, log-log: softmax's O(L^2) against RFA's O(L). Red crosses mark runs whose error against"
             " the plaintext twin exceeds the tolerance (CrypTen's stock softmax from a few hundred tokens)."),
    Artifact("rfa_error_vs_features", FIGURE, "attention", plot_rfa_error,
             "RFA's error against exact softmax attention (approximation + MPC) and against its own plaintext "
             "twin (MPC only) as the number of random features D grows."),
    Artifact("step_costs", FIGURE, "step", plot_step_costs,
             f"Estimated seconds per tuning step under each link and online GB per step, per method, at "
             f"{publication.SHAPE} (without those records: the measured shape whose steps cost the most)."),
    Artifact("step_breakdown", FIGURE, "step", plot_breakdown,
             "Share of estimated LAN time and of online bytes per phase (forward, loss, backward, optimizer, "
             "opening to the data owner) of one step, per method, at the same shape as `step_costs`."),
    Artifact("nonlinear_costs", FIGURE, "gelu", plot_nonlinear_costs,
             "GeLU per element (tanh form, clamped as pretrained inputs need, against the one-round Fourier "
             f"series) and one FoT candidate at {publication.SHAPE}, with the paper's nonlinearities and "
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
             f"The paper's efficiency table ({publication.SHAPE}, LAN) with this suite's measurements beside"
             " the published figures, and the same steps under WAN links (not published)."),
    Artifact("adam", TABLE, "step", adam_table,
             "Adam's MPC settings (Newton steps of the square root and the reciprocal, the reciprocal's sign "
             "test): what the optimizer costs, its error against plaintext Adam given the same gradient "
             "(relative L2 over the elements it did not fail on) and the elements it failed on (off by more "
             "than 10 learning rates: CrypTen's local truncation); `chosen` marks the cheapest setting within "
             "1 point of the most accurate one, which the paper table's SFT row uses."),
    Artifact("paper_block", TABLE, "step", block_table,
             f"One encoder block of a FoT candidate at {publication.SHAPE}, per variant (the difference of "
             "the two measured depths: exact): rounds, online and offline GB, LAN network seconds under half "
             "and full duplex, and the blocks' share of the candidate's bytes."),
    Artifact("two_by_two", TABLE, "step", two_by_two_table,
             f"Best against best at {publication.SHAPE}: {{SFT, FoT}} x {{softmax, RFA}}, each with the paper's "
             "nonlinearities (tanh GeLU, separate QKV) and with the cheap ones (Fourier GeLU, fused QKV): online "
             "and offline GB, rounds, network-only seconds per link, LAN seconds with compute."),
    Artifact("trick_ratios", TABLE, "step", lambda df: trick_ratios(two_by_two_table(df)),
             "What each trick buys of the 2 x 2's per-step ratio, along two orders (forward-only tuning first, "
             "as the paper takes it; or SFT given RFA and the cheap nonlinearities first): before/after ratios "
             "of online and offline GB, rounds and network-only seconds per link."),
    Artifact("projection", TABLE, "step", projection_table,
             "A projection, not a measured run: what one whole published tuning run (" + "; ".join(
                 f"{b.name}: {b.units:,} {'generations of ' + str(b.population) if b.population else 'steps of batch ' + str(b.batch)}"
                 for b in publication.BUDGETS) + f") costs at {publication.MODEL_NAME} per task and configuration, "
             "from the measured price of one unit at the task's 16-shot shape."),
    Artifact("amortisation", TABLE, "step", amortisation_table,
             f"Per FoT candidate at {publication.SHAPE}, and at a few-shot shape (MiniLM, L = 64, the "
             "16-shot training set as one batch): online GB and rounds with the paper's fresh masks and with "
             "persistent weight masks and cached fixed inputs, what the latter pays once per run, and the "
             "number of candidates after which it is cheaper in total."),
    Artifact("fot_modes", TABLE, "step", fot_modes_table,
             "One CMA-ES generation as one batched forward against one forward per candidate, and the cheaper "
             "of the two under each link."),
)


def descriptions() -> dict[tuple[str, str], str]:
    """(kind, name) -> description of every artifact the report can write."""
    from . import accuracy, claims, timing

    return {**{(a.kind, a.name): a.description for a in ARTIFACTS}, **accuracy.ARTIFACT_DESCRIPTIONS,
            **claims.ARTIFACT_DESCRIPTIONS,
            (FIGURE, "time_model"): timing.FIGURE_DESCRIPTION, (TABLE, "time_model"): timing.DESCRIPTION,
            (TABLE, "provenance"): "Where the numbers come from: per workload and provider, the records, the "
                                   "machine, torch and CrypTen versions, the git commit and the dates."}


def readme(df: pd.DataFrame, records: list[dict], written: list[Path], out_dir: Path, sources: list,
           accuracy_lines: list[str] = (), timing_lines: list[str] = (), summary_lines: list[str] = ()) -> str:
    """reports/README.md: what each figure and table shows, where the numbers come from."""
    def rel(path):
        return Path(path).relative_to(out_dir).as_posix()

    lan = LINK_PROFILES["lan"]
    figs = [p for p in written if p.suffix == ".png"]
    tables = [p for p in written if p.suffix == ".md"]
    described = descriptions()
    lines = [
        "# secfwt report",
        "",
        *summary_lines,
        "Generated by `make report` (`secfwt report`) from the records in "
        + ", ".join(f"`{Path(s).as_posix()}`" for s in sources)
        + "; no MPC is run to make it. `make bench` refreshes the quick profile's records, "
          f"`make bench PROFILE=paper` the paper's {publication.MODEL_NAME} table (about 50 min on 2 cores), "
          "`make bench PROFILE=attention` the attention sweep (about 8 min), `make bench PROFILE=accuracy` "
          "the tuning runs and their MPC prices (about 100 min).",
        "",
        "Every MPC number is a real two-party CrypTen run (separate processes over TCP); tuning accuracies come "
        "from the plaintext twin (provider `plaintext`), whose MPC fidelity *FoT in MPC against the plaintext "
        "twin* measures. Rounds and bytes are "
        "counted exactly; times are estimated with `est_s = compute_s + rounds * 2 * latency_s + bytes * 8 / "
        "bandwidth_bps` (" + ", ".join(f"{link_label(n)} {link.text()}" for n, link in LINK_PROFILES.items())
        + ", latency as a round trip; half duplex: both directions' bytes on one pipe), where `compute_s` was measured on "
        "the machines below (their `cpu`), one thread per party: CPU models differ in speed, so a time with "
        "compute is only set against another measured in the same run (the whole paper table names each "
        "row's `cpu`). An extrapolated record one of whose larger measured runs (deeper, a larger batch or "
        "population) measured less compute than a smaller one gives no time with compute (`–`, as for anything "
        "not measured): its compute would be a noisy difference floored at 0 "
        "(`secfwt.results.compute_from_noise`); its counts and network-only times stand. "
        "Each CrypTen round costs two round trips (a two-party "
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
        narrow(provenance(records), PROVENANCE_VIEW, "provenance", lambda t: markdown(t, floatfmt="g")),
        "",
    ]
    if (df["workload"] == "step").any():
        paper = paper_table(df)
        lines += ["## The paper's table beside ours", ""]
        if len(paper):
            ratios = ["method"] + [c for c in paper if c.endswith("_SFT_over")]
            lines += [narrow(paper, PAPER_VIEW, "paper_table"), "",
                      f"Ratios: SFT's figure divided by each method's (SFT is `{sft_baseline_label(df)}`, "
                      "Adam's cheapest setting within 1 point of the most accurate one; see the `adam` table; "
                      "counts and network-only time: the times with this machine's compute come from different "
                      "runs and are not set against each other):", "",
                      markdown(paper[ratios]), ""]
            lines += [publication.published_text(), "",
                      "Columns: `GB` online, `offline_GB` the dealer's (both per step; a FoT step is one "
                      "candidate). `lan_net_half_s` and `lan_net_full_s` are the network alone (rounds x "
                      f"{ROUND_TRIPS_PER_ROUND} x {lan.latency_s * 1e3:g} ms + carried bytes x 8 / "
                      f"{lan.bandwidth_bps / 1e9:g} Gbps): half duplex carries both directions' bytes on one pipe, full "
                      "duplex only the busier direction's, call by call (the meter's `duplex_bytes`; CrypTen's "
                      "openings are symmetric, so about half). `lan_s`, `wan200_s`, `wan100_s` add this machine's "
                      "compute (2 shared cores, one thread per party; the paper used GPUs) to the half-duplex "
                      "network time. `paper_GB_half_s` / `paper_GB_full_s`: the time the published GB alone need "
                      f"on the published {publication.LINK.bandwidth_bps / 1e9:g} Gbps link under each convention.", ""]
            lines += paper_reproduction_lines(paper, sft_baseline_label(df), clamp_cost_per_element(df))
            lines += beyond_paper_lines(paper, *(make(df) if (df["workload"] == name).any() else None
                                                 for name, make in (("gelu", gelu_table),
                                                                    ("layernorm", layernorm_table))))
            lines += two_by_two_lines(df)
            lines += projection_lines(df)
            lines += amortisation_lines(amortisation_table(df))
            lines += depth_error_lines(df)
            bd = breakdown_data(df)
            bd = bd[(bd["model"] == publication.MODEL) & (bd["seq"] == publication.SEQ)]
            if len(bd):
                cols = [c for c in ("method", "forward_time_share", "backward_time_share", "optimizer_time_share",
                                    "softmax_share_of_forward_time", "softmax_share_of_forward_bytes",
                                    "gelu_share_of_forward_bytes") if c in bd]
                lines += [f"Breakdown at {publication.SHAPE} (shares of estimated LAN time and of bytes):", "",
                          markdown(bd[cols], floatfmt=".3f"), ""]
        else:
            lines += [f"No {publication.SHAPE} records yet: run `make bench PROFILE=paper`.", ""]
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
    written = write_table(provenance(records), tables / "provenance")
    present = set(df["workload"])
    for art in ARTIFACTS:
        if art.workload not in present:
            continue
        if art.kind == FIGURE:
            written += plotting.save(art.make(df), figs / art.name)
        else:
            table = art.make(df)
            if len(table):
                written += write_table(table, tables / art.name)
    from . import accuracy, claims, inference

    claimed, claim_lines, summary_lines = claims.write(records, figs, tables)
    inferred, inference_lines = inference.write(records, tables)
    summary_lines = summary_lines + inference.summary_lines(records)
    claimed += inferred
    claim_lines = claim_lines + inference_lines
    tuned, accuracy_lines = accuracy.write(records, figs, tables)
    timed, timing_lines = timing.write(records, figs, tables)
    written += claimed + tuned + timed
    readme_path = out_dir / "README.md"
    readme_path.write_text(readme(df, records, written, out_dir, paths, claim_lines + accuracy_lines, timing_lines,
                                  summary_lines))
    return written + [readme_path]



