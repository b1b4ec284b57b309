"""Figures and tables are pure functions of a DataFrame: assert on the data they plot."""

import json
from pathlib import Path

import pandas as pd
import pytest

from secfwt import report
from secfwt.results import Costs, Record, Store


def synthetic_records(features=(32,)):
    recs = []
    for impl, power in (("softmax-stock", 2), ("rfa-builtin", 1)):
        for seq, feat in [(s, f) for s in (32, 64, 128) for f in features]:
            b = 1000 * seq**power
            recs.append({
                "workload": "attention", "provider": "ttp", "status": "ok", "world_size": 2, "security": "s",
                "params": {"impl": impl, "seq": seq, "heads": 4, "head_dim": 32, "features": feat, "batch": 1, "seed": 0},
                "rounds": 100, "bytes": b, "offline_bytes": b // 3, "offline_rounds": 300, "compute_s": 0.1, "wall_s": 0.5,
                "est_s": {"lan": 0.1 + b * 8 / 3e9, "wan200": 1.0, "wan100": 2.0 + b * 8 / 1e8},
                "links": {}, "max_abs_err": 0.001, "approx_err": 1.0 / feat, "tolerance": 0.05, "scopes": {}, "env": {"git_sha": "x"},
            })
    recs.append({**recs[0], "params": {**recs[0]["params"], "seq": 256}, "status": "error", "rounds": None,
                 "bytes": None})
    return recs


def test_scaling_data_is_sorted_per_variant_and_drops_failed_runs():
    df = report.records_frame(synthetic_records())
    data = report.attention_scaling_data(df)
    assert list(data["impl"]) == ["softmax-stock"] * 3 + ["rfa-builtin"] * 3  # the suite's variant order
    assert list(data["seq"]) == [32, 64, 128] * 2
    soft = data[data["impl"] == "softmax-stock"]["bytes"].tolist()
    assert soft == [1000 * 32**2, 1000 * 64**2, 1000 * 128**2]


def test_plot_draws_one_line_per_variant_with_the_records_values():
    fig = report.plot_attention_scaling(report.records_frame(synthetic_records()))
    ax = fig.axes[0]
    lines = {ln.get_label(): (list(ln.get_xdata()), list(ln.get_ydata())) for ln in ax.get_lines()}
    assert lines["rfa-builtin"] == ([32, 64, 128], [32000, 64000, 128000])
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"


def test_missing_columns_are_reported_before_plotting():
    df = pd.DataFrame({"workload": ["attention"], "impl": ["x"]})
    with pytest.raises(ValueError, match="lack column"):
        report.plot_attention_scaling(df)


def test_write_report_writes_figures_and_tables(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in synthetic_records()))
    written = report.write_report(path, tmp_path / "out")
    names = sorted(p.name for p in written)
    assert names == sorted([
        "README.md", "attention.csv", "attention.md", "attention_ratios.csv", "attention_ratios.md",
        "provenance.csv", "provenance.md", "attention_scaling.png", "attention_scaling.svg",
        "rfa_error_vs_features.png", "rfa_error_vs_features.svg"])
    table = pd.read_csv(tmp_path / "out" / "tables" / "attention.csv")
    assert len(table) == 7 and set(table["status"]) == {"ok", "error"}


def test_store_tolerates_a_torn_last_line_and_appends_after_it(tmp_path):
    store = Store(tmp_path / "s.jsonl")
    ident = {"workload": "op", "params": {}, "provider": "ttp", "world_size": 2, "status": "ok"}
    store.append({**ident, "a": 1})
    with store.path.open("a") as f:
        f.write('{"a": 2, "b"')
    store.append({**ident, "a": 3})
    assert [r["a"] for r in store.load()] == [1, 3]


def test_every_committed_record_loads_as_a_typed_record_and_writes_back_the_same():
    """Records from every era of the suite (before duplex bytes, before check_fields, plaintext
    twins, emulated runs) load; what the schema does not name is the workload's own fields."""
    files = sorted((Path(__file__).resolve().parents[1] / "reports" / "records").glob("*.jsonl"))
    assert len(files) >= 5
    seen = 0
    for path in files:
        for stored in Store(path).load():
            typed = Record.from_json(stored)
            assert typed.to_json() == stored, path
            if typed.check_fields is not None:  # every top-level field is the schema's or a declared check
                assert set(typed.results) <= set(typed.check_fields), (path, set(typed.results) - set(typed.check_fields))
                if typed.status != "error":  # a finished run holds every check it lists
                    assert set(typed.results) == set(typed.check_fields), (path, set(typed.check_fields) - set(typed.results))
            seen += 1
    assert seen > 200


def test_a_record_refuses_what_is_not_one_and_workload_fields_that_clash_with_its_own():
    with pytest.raises(ValueError, match="lacks status"):
        Record.from_json({"workload": "op", "params": {}, "provider": "ttp", "world_size": 2})
    clash = Record(workload="op", params={}, provider="ttp", world_size=2, status="ok", results={"rounds": 3})
    with pytest.raises(ValueError, match="clash"):
        clash.to_json()


def test_costs_fold_over_parties_and_extrapolate_with_exact_counts():
    """Two parties' meters: rounds and times are the slower party's, online bytes are logged twice
    (sender and receiver), offline bytes once; an affine extrapolation rounds counts exactly and
    floors each term's negative time."""
    p0 = {"rounds": 4, "bytes": 300, "offline_rounds": 2, "offline_bytes": 40, "duplex_bytes": 150,
          "compute_s": 1.5, "offline_s": 0.25, "wall_s": 2.0, "comm_s": 0.5, "calls": 9}
    p1 = {"rounds": 3, "bytes": 300, "offline_rounds": 0, "offline_bytes": 0, "duplex_bytes": 170,
          "compute_s": 2.5, "offline_s": 0.0, "wall_s": 1.0}
    folded = Costs.fold([p0, p1])
    assert folded == Costs(rounds=4, bytes=300, offline_rounds=2, offline_bytes=40, duplex_bytes=170,
                           compute_s=2.5, offline_s=0.25, wall_s=2.0)
    one = Costs(rounds=10, bytes=1000, compute_s=3.0, wall_s=4.0)
    two = Costs(rounds=13, bytes=1700, compute_s=2.0, wall_s=5.0)  # a noisy deeper run: less compute
    at_five = Costs.affine([(1.0, one), (4.0, two - one)])  # cost(1) + (5 - 1) * (cost(2) - cost(1))
    assert (at_five.rounds, at_five.bytes) == (22, 3800)
    assert at_five.compute_s == 3.0 and at_five.wall_s == 8.0  # -1 s per block floored at 0; +1 s kept
    assert (two - one).clamped() == Costs(rounds=3, bytes=700, compute_s=0.0, wall_s=1.0)


@pytest.mark.parties
def test_record_contract_fields_are_present_in_a_real_record():
    from secfwt.links import PROFILES
    from secfwt.runner import run_one

    rec = run_one("op", {"size": 4}, list(PROFILES.values()))
    typed = Record.from_json(rec)
    assert typed.to_json() == rec
    assert set(typed.results) == set(typed.check_fields) == {"max_abs_err", "mean_abs_err"}  # nothing the schema does not know
    for name in ("security", "links", "env", "code_version", "tolerance", "rounds", "bytes", "offline_rounds",
                 "offline_bytes", "duplex_bytes", "compute_s", "offline_s", "wall_s", "est_s", "scopes", "run_s",
                 "per_party"):
        assert getattr(typed, name) is not None, name
    assert typed.costs() == Costs.of(rec["scopes"][""])  # an op has no one-time part: the totals are the run's
    assert {"git_sha", "torch", "crypten", "transformers", "cpu", "date"} <= set(rec["env"])
    assert rec["env"]["torch"].startswith("2.13.0") and rec["env"]["crypten"] == "0.4.1"


def test_ratio_table_divides_the_baseline_by_each_variant_at_the_longest_sequence():
    table = report.attention_ratio_table(report.records_frame(synthetic_records()), baseline="softmax-stock")
    assert list(table["seq"]) == [128, 128]
    row = table[table["impl"] == "rfa-builtin"].iloc[0]
    assert row["bytes_x_vs_softmax-stock"] == pytest.approx(128)  # 1000*128^2 / (1000*128)
    assert row["rounds_x_vs_softmax-stock"] == 1


def test_rfa_error_data_picks_the_feature_sweep():
    df = report.records_frame(synthetic_records(features=(16, 64, 256)))
    data = report.rfa_error_data(df)
    assert set(data["impl"]) == {"rfa-builtin"}
    assert list(data["features"]) == [16, 64, 256]
    assert list(data["approx_err"]) == [1 / 16, 1 / 64, 1 / 256]


def test_latest_record_wins():
    old, new = synthetic_records()[0], {**synthetic_records()[0], "bytes": 1}
    assert report.latest_records([old, new]) == [new]


def test_a_failed_rerun_does_not_hide_a_finished_measurement():
    ok = synthetic_records()[0]
    failed = {**ok, "status": "error"}
    assert report.latest_records([ok, failed]) == [ok]
    assert report.latest_records([failed]) == [failed]


def test_variants_get_their_own_label_and_sort_after_their_base_method():
    from secfwt.report import accuracy

    rfa = {"method": "fot", "attention": "rfa-onepass", "gelu": "tanh", "qkv": "separate"}
    beyond = {**rfa, "gelu": "fourier", "qkv": "fused"}
    assert accuracy.method_label(rfa) == "FoT (RFA)"
    assert accuracy.method_label(beyond) == "FoT (RFA) + fourier GeLU + fused QKV"
    # a softmax other than the paper's is its own row, never merged with softmax-stable's
    softmax = {**beyond, "attention": "softmax-stable"}
    assert accuracy.method_label(softmax) == "FoT (softmax) + fourier GeLU + fused QKV"
    assert accuracy.method_label({**softmax, "attention": "softmax-lookup"}) == \
        "FoT (softmax) + lookup max + fourier GeLU + fused QKV"
    assert accuracy.method_label({"method": "sft", "attention": "softmax-lookup"}) == "SFT + lookup max"
    labels = ["FoT (RFA) + fourier GeLU + fused QKV", "SFT", "FoT (RFA)", "FoT (softmax)", "LoRA"]
    assert sorted(labels, key=accuracy.method_rank) == ["SFT", "LoRA", "FoT (softmax)", "FoT (RFA)",
                                                          "FoT (RFA) + fourier GeLU + fused QKV"]


def test_fot_gain_is_stated_against_its_start_and_the_untuned_head():
    import pandas as pd

    from secfwt.report.accuracy import fot_gain_lines

    acc = pd.DataFrame([{"task": "sst2", "method": "FoT (softmax)", "final_acc_mean": 0.709, "start_acc": 0.506,
                         "zero_shot_acc": 0.742}, {"task": "sst2", "method": "SFT", "final_acc_mean": 0.755,
                                                   "start_acc": 0.742, "zero_shot_acc": 0.742}])
    assert fot_gain_lines(acc) == ["- sst2, FoT (softmax): 0.709, +20.3 points over its start (0.506) and -3.3 "
                                   "against the untuned head without a prompt (0.742)."]


@pytest.mark.slow
def test_report_is_reproducible_byte_for_byte(tmp_path):
    """Two reports from the same records are identical files (SVG ids and dates are fixed)."""
    from pathlib import Path

    from secfwt.report import write_report

    records = [Path(__file__).parent.parent / "reports/records/quick.jsonl"]
    first = {p.relative_to(tmp_path / "a"): p.read_bytes() for p in write_report(records, tmp_path / "a")}
    second = {p.relative_to(tmp_path / "b"): p.read_bytes() for p in write_report(records, tmp_path / "b")}
    assert any(p.suffix == ".svg" for p in first)
    assert first == second


def test_a_record_made_before_a_parameter_existed_is_the_same_measurement_at_its_backfilled_value():
    from secfwt.results import record_key

    old = {"method": "fot", "seq": 32}  # stored before weight_masks and fixed_inputs existed
    new = {**old, "weight_masks": "fresh", "fixed_inputs": "recomputed"}
    amortised = {**old, "weight_masks": "persistent", "fixed_inputs": "cached"}
    assert record_key("step", old, "ttp", 2) == record_key("step", new, "ttp", 2)
    assert record_key("step", amortised, "ttp", 2) != record_key("step", old, "ttp", 2)


@pytest.mark.slow
def test_the_committed_report_is_byte_for_byte_reproducible_across_processes(tmp_path):
    """`make report` twice leaves `git status` clean: two processes with different string-hash seeds
    (set order) write identical files from the committed records."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    records = sorted(str(p) for p in (Path(__file__).parent.parent / "reports" / "records").glob("*.jsonl"))
    outs = []
    for seed in ("1", "2"):
        out = tmp_path / f"out{seed}"
        args = [a for r in records for a in ("--records", r)]
        proc = subprocess.run([sys.executable, "-m", "secfwt", "report", *args, "--out", str(out)],
                              capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": seed})
        assert proc.returncode == 0, proc.stderr
        outs.append({p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()})
    assert outs[0].keys() == outs[1].keys() and len(outs[0]) > 40
    assert [name for name in outs[0] if outs[0][name] != outs[1][name]] == []
    # the README opens with a one-screen summary (the claims' verdicts) and shows no table wider than
    # README_COLUMNS: wider ones keep a narrow view and link the whole table, which exists
    from secfwt.report.frame import README_COLUMNS

    readme = outs[0]["README.md"].decode().splitlines()
    assert readme[2] == "## Summary"
    summary = readme[2:readme.index("## Where the numbers come from")]
    assert len([line for line in summary if not line.startswith("Generated by")]) <= 40
    assert [line[:3] for line in summary if line[:3] in ("1. ", "2. ", "3. ")] == ["1. ", "2. ", "3. "]
    heads = [line for i, line in enumerate(readme) if line.startswith("|") and not readme[i - 1].startswith("|")]
    assert heads and max(line.count("|") - 1 for line in heads) <= README_COLUMNS
    for line in readme:
        if line.startswith("The whole table"):
            target = line.split("](")[1].rstrip(").")
            assert target in outs[0], target


def test_the_report_imports_the_papers_figures_and_the_link_specs_instead_of_repeating_them():
    """One home each: secfwt.paper (published figures, shape) and secfwt.links (link specs)."""
    from secfwt import paper
    from secfwt.links import PROFILES

    package = Path(report.__file__).parent
    source = "\n".join(p.read_text() for p in sorted(package.glob("*.py")))
    literals = {f"{v:g}" for pair in paper.STEP.values() for v in pair}
    literals |= {link.text() for link in PROFILES.values()} | {f"{paper.SEQ}", "RoBERTa-large"}
    found = sorted(x for x in literals if x in source)
    assert found == [], found  # each figure is imported from its home, not typed again
    assert paper.published_text().count(" GB") == len(paper.STEP)


@pytest.mark.parametrize("name", sorted(p.name for p in (Path(__file__).resolve().parents[1] / "reports" / "records")
                                        .glob("*.jsonl")))
@pytest.mark.slow
def test_a_report_from_any_one_committed_records_file_is_written(name, tmp_path):
    """Any subset of records makes a report (beyond.jsonl alone used to fail in the accuracy headline:
    priced steps, no trajectory reaching a target)."""
    from secfwt.report import write_report

    written = write_report([Path(__file__).resolve().parents[1] / "reports" / "records" / name], tmp_path)
    assert (tmp_path / "README.md") in written and (tmp_path / "README.md").read_text().startswith("# secfwt report")


def test_step_figures_show_the_papers_shape_with_one_distinct_bar_per_row():
    """The step figures used to pick the shape with the most GB in total (the accuracy runs' MiniLM
    prices), and vertical bars with repeated labels merged rows into one bar."""
    from secfwt.report.steps import bar_labels, headline_config

    rows = pd.DataFrame({"model": ["minilm"] * 3 + ["large"], "seq": [56, 56, 56, 512],
                         "method": ["FoT (RFA)", "FoT (RFA)", "SFT", "SFT"], "mode": ["batched", "batched", "", ""],
                         "batch": [8, 32, 8, 1], "GB": [15.0, 660.0, 900.0, 984.0]})
    assert headline_config(rows) == ("large", 512)  # the paper's shape, though MiniLM's rows add up to more
    assert headline_config(rows[rows["model"] == "minilm"]) == ("minilm", 56)
    labels = bar_labels(rows[rows["model"] == "minilm"])
    assert labels == ["FoT (RFA), batched, batch 8", "FoT (RFA), batched, batch 32", "SFT"]


def test_accuracy_figure_gives_each_method_one_style_in_every_panel_and_one_legend():
    """Eleven methods used to cycle through ten colours (two curves alike) with a legend per row."""
    from secfwt.report.accuracy import plot_accuracy_vs_cost

    methods = [f"M{k}" if k % 2 else f"M{k} + persistent weight masks" for k in range(11)]
    rows = [{"task": task, "method": m, "units": u, "test_acc": 0.5 + 0.01 * u, "online_GB": u * (k + 1.0),
             "net_s_lan": u * 2.0, "net_s_wan200": u * 3.0, "net_s_wan100": u * 4.0}
            for task in ("sst2", "agnews") for k, m in enumerate(methods) for u in range(3)]
    fig = plot_accuracy_vs_cost(pd.DataFrame(rows))
    colours = {}
    for ax in fig.axes:
        for line in ax.get_lines():
            colours.setdefault(line.get_label(), set()).add(line.get_color())
    assert set(colours) == set(methods) and all(len(c) == 1 for c in colours.values())
    assert len({next(iter(c)) for c in colours.values()}) == len(methods)  # no two methods alike
    assert len(fig.legends) == 1 and len(fig.legends[0].get_texts()) == len(methods)
    assert all(ax.get_legend() is None for ax in fig.axes)


def test_backward_runs_get_their_own_columns_and_stay_out_of_the_forward_figures():
    """A backward run of the same shape is another measurement: the scaling figure and the error
    sweep keep to forward runs, the tables state the backward alone per element."""
    recs = synthetic_records()
    back = {**recs[1], "params": {**recs[1]["params"], "backward": True}, "bytes": 7, "grad_min_cosine": 0.9999,
            "grad_max_rel_err": 0.01, "scopes": {"backward": {"rounds": 18, "bytes": 5, "offline_bytes": 3,
                                                              "compute_s": 0.1}}}
    df = report.records_frame(recs + [back])
    assert 7 not in report.attention_scaling_data(df)["bytes"].tolist()
    table = report.attention_table(df)
    row = table[table["backward"]].iloc[0]
    assert (row["backward_rounds"], row["backward_bytes"], row["backward_offline_bytes"]) == (18, 5, 3)
    assert table["backward"].sum() == 1
    gelu = []
    for clamp, backward, size, total, online, offline in ((False, True, 4, 600, 80, 40),  # first: must be skipped
                                                         (False, False, 4, 400, None, None), (True, False, 4, 1000, None, None)):
        scopes = {"backward": {"rounds": 10, "bytes": online, "offline_bytes": offline, "compute_s": 0.0}} if backward else {}
        gelu.append({"workload": "gelu", "provider": "ttp", "status": "ok", "world_size": 2, "rounds": 26,
                     "bytes": total, "offline_bytes": 1, "max_abs_err": 0.0, "scopes": scopes, "est_s": {}, "env": {},
                     "params": {"impl": "tanh", "clamp": clamp, "range": 8.0, "size": size, "seed": 0,
                                **({"backward": True} if backward else {})}})
    df = report.records_frame(gelu)
    table = report.gelu_table(df)
    assert table.loc[table["backward"], ["backward_bytes_per_element", "backward_offline_bytes_per_element"]].values.tolist() \
        == [[20.0, 10.0]]
    assert report.clamp_cost_per_element(df) == (1000 - 400) / 4  # the clamp's cost, from forward runs only


def test_best_against_best_takes_each_methods_cheapest_configuration_that_reaches_in_every_seed():
    import pandas as pd

    from secfwt.report import accuracy

    def row(method, reached, units, gb, lan, wan):
        return {"task": "sst2", "method": method, "target": "95% of SFT", "target_acc": 0.8, "reached": reached,
                "units": units, "online_GB": gb, "lan_net_s": lan, "wan100_net_s": wan}

    table = pd.DataFrame([
        row("SFT", "3/3", 20, 100.0, 50.0, 500.0),
        row("SFT + RFA", "3/3", 30, 60.0, 40.0, 300.0),  # SFT's cheapest on both links
        row("LoRA + RFA + fourier GeLU", "2/3", 10, 1.0, 1.0, 1.0),  # cheapest of all, but misses a seed
        row("FoT (softmax)", "3/3", 40, 500.0, 400.0, 4000.0),
        row("FoT (RFA) + fourier GeLU", "3/3", 50, 100.0, 80.0, 1200.0),
    ])
    best = accuracy.best_against_best(table, links=("lan", "wan100"))
    picked = {(r["link"], r["family"]): r["configuration"] for _, r in best.iterrows()}
    assert picked == {("lan", "SFT"): "SFT + RFA", ("wan100", "SFT"): "SFT + RFA",
                      ("lan", "FoT"): "FoT (RFA) + fourier GeLU", ("wan100", "FoT"): "FoT (RFA) + fourier GeLU"}
    [line] = accuracy.best_against_best_lines(best)
    assert "lan: FoT (RFA) + fourier GeLU, 80 s and 100 GB against SFT + RFA, 40 s and 60 GB: FoT 2.0x dearer" \
        in line
    assert "wan100: FoT (RFA) + fourier GeLU, 1,200 s and 100 GB against SFT + RFA, 300 s and 60 GB: " \
        "FoT 4.0x dearer" in line
    assert accuracy.method_label({"method": "lora", "attention": "rfa-onepass", "gelu": "fourier",
                                  "qkv": "fused"}) == "LoRA + RFA + fourier GeLU + fused QKV"
    assert accuracy.family("LoRA + RFA + fourier GeLU") == "LoRA"


def test_projection_multiplies_the_measured_unit_by_the_published_budget_plus_what_is_paid_once():
    from secfwt import paper

    def step(method, seq, batch, nbytes, rounds, **extra):
        params = {"method": method, "model": "large", "seq": seq, "batch": batch, "attention": "rfa-onepass",
                  "optimizer": "adam", "population": 20, "fot_mode": "batched", "layers": 24, "classes": 2,
                  "task": "synthetic", **extra}
        return {"workload": "step", "provider": "ttp", "status": "ok", "world_size": 2, "params": params,
                "rounds": rounds, "bytes": nbytes, "offline_bytes": 2 * nbytes, "compute_s": 0.0, "max_abs_err": 0.0,
                "est_s": {"lan": 10.0}, "env": {}, "scopes": {}}

    seq = paper.projection_seq("sst2")
    assert seq == 56  # SST-2's longest 16-shot example, 55 tokens, rounded up to 8
    fot = step("fot", paper.PROMPT_TOKENS + seq, 32, 10**9, 100, weight_masks="persistent")
    fot["one_time"] = {"rounds": 7, "bytes": 5 * 10**9, "offline_bytes": 0}
    sft = step("sft", seq, 8, 3 * 10**9, 1000)
    other = step("sft", seq, 4, 10**12, 1)  # another batch: prices no published run
    frame = report.records_frame([fot, sft, other])
    table = report.projection_table(frame)
    got = {r["budget"]: r for _, r in table.iterrows()}
    assert set(got) == {"Black-Box Tuning", "LM-BFF fine-tuning"} and len(table) == 2
    bbt, bff = got["Black-Box Tuning"], got["LM-BFF fine-tuning"]
    assert (bbt["units"], bbt["GB"], bbt["rounds"], bbt["offline_GB"]) == (400, 400 * 1 + 5, 400 * 100 + 7, 800)
    assert (bff["units"], bff["GB"], bff["rounds"]) == (1000, 3000, 10**6)
    from secfwt.links import PROFILES, network_seconds

    for name, link in PROFILES.items():  # the network alone, half duplex, what is paid once included
        assert bbt[f"{name}_net_h"] == pytest.approx(network_seconds(40_007, 405e9, link, duplex="half") / 3600)
        assert bff[f"{name}_net_h"] == pytest.approx(network_seconds(10**6, 3e12, link, duplex="half") / 3600)
    assert "lan_h" not in table  # no time with compute: extrapolated ~10^4-fold, it is not a measurement
    assert "persistent weight masks" in bbt["configuration"] and bbt["seq"] == 106


def test_trick_ratios_split_the_two_by_two_along_both_orders_and_merge_across_a_missing_cell():
    import itertools

    import pandas as pd

    from secfwt.report import trick_ratios

    # GB per cell: SFT 100, x 1/2 for RFA, x 1/5 for the cheap nonlinearities; FoT a tenth of SFT's
    cells = []
    for method, attention, nonlinear in itertools.product(("SFT", "FoT"), ("softmax", "RFA"), ("paper", "cheap")):
        gb = 100.0 * (0.1 if method == "FoT" else 1) * (0.5 if attention == "RFA" else 1) * (0.2 if nonlinear == "cheap" else 1)
        cells.append({"method": method, "attention": attention, "nonlinearities": nonlinear,
                      "configuration": f"{method} {attention} {nonlinear}", "GB": gb, "offline_GB": gb, "rounds": gb,
                      "lan_net_s": gb, "wan200_net_s": gb, "wan100_net_s": gb})
    table = pd.DataFrame(cells)
    ratios = trick_ratios(table)
    assert set(ratios["order"]) == {"forward-only first (the paper's order)",
                                    "protocols first (SFT gets every trick it can use)"}
    for _, sub in ratios.groupby("order"):
        steps = dict(zip(sub["step"], sub["GB_x"]))
        assert steps["forward-only tuning"] == pytest.approx(10) and steps["RFA"] == pytest.approx(2)
        assert steps["cheap nonlinearities"] == pytest.approx(5) and steps["all together"] == pytest.approx(100)
    no_sft_rfa_paper = table[~((table["method"] == "SFT") & (table["attention"] == "RFA")
                               & (table["nonlinearities"] == "paper"))]
    merged = trick_ratios(no_sft_rfa_paper)
    protocols = merged[merged["order"].str.startswith("protocols")]
    assert dict(zip(protocols["step"], protocols["GB_x"])) == pytest.approx(
        {"RFA and cheap nonlinearities": 10, "forward-only tuning": 10, "all together": 100})
    no_end = trick_ratios(table[~((table["method"] == "SFT") & (table["nonlinearities"] == "paper")
                                  & (table["attention"] == "softmax"))])
    assert no_end.empty  # both orders start at SFT with the paper's protocols


def test_a_readme_table_writes_a_missing_value_as_a_dash_and_keeps_its_numbers():
    """A time with compute given for no unit (or anything not measured) reads `–`, not `nan`; numbers
    keep their thousands separators and significant digits; strings and booleans pass as they are."""
    from secfwt.report.frame import MISSING, markdown

    text = markdown(pd.DataFrame({"task": ["sst2", "agnews"], "GB": [450808.43, 0.01234567],
                                  "lan_h": [float("nan"), 2178.75], "ok": [True, False]}))
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in text.splitlines()[2:]]
    assert rows == [["sst2", "450,808", MISSING, "True"], ["agnews", "0.01235", "2,179", "False"]]
    assert "nan" not in text
    fixed = markdown(pd.DataFrame({"rfa": [0.7716, float("nan")], "task": ["sst2", "mrpc"]}), floatfmt=".3f")
    assert [[c.strip() for c in line.strip("|").split("|")] for line in fixed.splitlines()[2:]] == [
        ["0.772", "sst2"], [MISSING, "mrpc"]]
