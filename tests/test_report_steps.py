"""The report's step tables and lines (secfwt.report.steps, versus_paper) on synthetic records."""

import json

import pandas as pd
import pytest
from synthetic import rec

from secfwt import report
from secfwt.links import PROFILES as PROFILES_LINKS


def step_records():
    out = []
    for method, opt, att, scale in (("sft", "adam", "softmax-stable", 10), ("fot", "adam", "rfa-onepass", 1),
                                    ("fot", "adam", "softmax-stable", 3)):
        scopes = {"": {"rounds": 100, "bytes": 1e9 * scale, "compute_s": 1.0},
                  "forward": {"rounds": 50, "bytes": 2e8 * scale, "compute_s": 0.5},
                  "forward.layer0.attn.softmax": {"rounds": 20, "bytes": 1e8 * scale, "compute_s": 0.2},
                  "forward.layer1.attn.softmax": {"rounds": 20, "bytes": 0.5e8 * scale, "compute_s": 0.1}}
        if method == "sft":
            scopes.update(backward={"rounds": 40, "bytes": 7e8 * scale, "compute_s": 0.4},
                          optimizer={"rounds": 10, "bytes": 1e8 * scale, "compute_s": 0.1})
        params = {"method": method, "optimizer": opt, "attention": att, "model": "large", "seq": 512, "batch": 1,
                  "layers": 24, "population": 2, "fot_mode": "sequential", "seed": 0}
        out.append(rec("step", params, rounds=100, nbytes=1e9 * scale, duplex_bytes=0.4e9 * scale, compute_s=1.0,
                       max_abs_err=1e-3,
                       est_s={"lan": 10.0 * scale, "wan200": 50.0 * scale, "wan100": 100.0 * scale},
                       scopes=scopes, extrapolation={"target_layers": 24}))
    return out


def test_step_table_gives_fot_per_candidate_and_the_paper_table_ratios():
    df = report.records_frame(step_records())
    table = report.step_table(df).set_index("method")
    assert table.loc["FoT (RFA)", "GB"] == pytest.approx(0.5)  # sequential generation of 2, per candidate
    assert table.loc["SFT", "GB"] == pytest.approx(10)
    paper = report.paper_table(df).set_index("method")
    assert paper.loc["FoT (RFA)", "GB_SFT_over"] == pytest.approx(20)
    # times are the model's, from the counts (1 s compute, 100 rounds x 2 x 0.8 ms, GB x 8 / 3 Gbps),
    # not the records' stored est_s: SFT's step against one FoT candidate (half a generation of 2)
    lan = lambda gb: 1.0 + 100 * 2 * 0.8e-3 + gb * 8 / 3  # noqa: E731
    assert paper.loc["FoT (RFA)", "lan_s"] == pytest.approx(lan(1) / 2)
    assert "lan_s_SFT_over" not in paper  # times with compute from different runs are not set in ratio
    # network only, half duplex: SFT's 100 rounds x 0.8 ms + 10 GB x 8 / 3 Gbps against 0.5 GB's
    half = lambda r, gb: r * 2 * 0.8e-3 + gb * 8 / 3  # noqa: E731
    assert paper.loc["FoT (RFA)", "lan_net_half_s"] == pytest.approx(half(50, 0.5))
    assert paper.loc["FoT (RFA)", "lan_net_half_s_SFT_over"] == pytest.approx(half(100, 10) / half(50, 0.5))
    # full duplex: the busier direction's bytes (here 40% of the total)
    assert paper.loc["FoT (RFA)", "lan_net_full_s"] == pytest.approx(half(50, 0.2))
    assert paper.loc["SFT", "paper_GB_half_s"] == pytest.approx(970.7 * 8 / 3)
    assert paper.loc["SFT", "paper_GB_full_s"] == pytest.approx(970.7 * 8 / 6)
    assert paper.loc["SFT", "adam"] == "10 sqrt + 10 recip Newton steps, sign test"
    assert paper.loc["FoT (RFA)", "paper_GB"] == 56.6
    assert paper.loc["SFT", "paper_lan_s"] == 651.6


def test_breakdown_shares_and_softmax_share_of_forward():
    df = report.records_frame(step_records())
    bd = report.breakdown_data(df).set_index("method")
    assert bd.loc["SFT", "forward_bytes_share"] + bd.loc["SFT", "backward_bytes_share"] + \
        bd.loc["SFT", "optimizer_bytes_share"] == pytest.approx(1)
    assert bd.loc["SFT", "backward_bytes_share"] == pytest.approx(0.7)
    assert bd.loc["SFT", "softmax_share_of_forward_bytes"] == pytest.approx(0.75)  # summed over layers
    fig = report.plot_breakdown(df)
    heights = [p.get_width() for p in fig.axes[1].patches]  # horizontal bars: a share is a width
    assert pytest.approx(sum(heights)) == 3  # three bars of shares summing to 1


def test_write_report_makes_a_readme_that_links_every_artifact(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps({**r, "env": {"cpu": "x", "date": "2026"}}) + "\n" for r in step_records()))
    written = report.write_report(path, tmp_path / "out")
    text = (tmp_path / "out" / "README.md").read_text()
    for p in written:
        if p.suffix in (".png", ".md") and p.name != "README.md":
            assert p.relative_to(tmp_path / "out").as_posix() in text
    assert "651.6" in text and "The paper's table beside ours" in text
    assert isinstance(pd.read_csv(tmp_path / "out" / "tables" / "paper_table.csv"), pd.DataFrame)


def test_fot_modes_table_names_the_cheaper_mode_per_link():
    recs = []
    # the model (1 s + rounds x 2 x latency + bytes x 8 / bandwidth): sequential pays fewer bytes and more
    # rounds, so it is cheaper on the LAN (5.64 s against 6.49 s) and dearer on WAN-100 (185 s against 177 s)
    for mode, rounds, nbytes, lan, wan in (("batched", 100, 2e9, 5.0, 30.0), ("sequential", 400, 1.5e9, 4.9, 60.0)):
        params = {"method": "fot", "optimizer": "adam", "attention": "rfa-onepass", "model": "tiny", "seq": 32,
                  "batch": 2, "layers": -1, "population": 4, "fot_mode": mode, "seed": 0}
        recs.append(rec("step", params, rounds=rounds, nbytes=nbytes, compute_s=1.0, max_abs_err=1e-3,
                        est_s={"lan": lan, "wan200": wan, "wan100": wan * 2}, scopes={}))
    table = report.fot_modes_table(report.records_frame(recs))
    assert len(table) == 1
    row = table.iloc[0]
    assert row["cheaper_lan"] == "sequential" and row["cheaper_wan100"] == "batched"
    assert row["batched_rounds"] == 100 and row["sequential_GB"] == pytest.approx(1.5)
    # a side with no time with compute (its extrapolated compute shrank with depth) names no cheaper mode
    recs[1]["extrapolation"] = {"target_layers": -1, "measured": [{"layers": 0, "batch": 2, "compute_s": 2.0},
                                                                 {"layers": 1, "batch": 2, "compute_s": 1.5}]}
    row = report.fot_modes_table(report.records_frame(recs)).iloc[0]
    assert (row["cheaper_lan"], row["cheaper_wan100"]) == ("", "")


def adam_record(sqrt, positive, err, opt_bytes, model="minilm", layers=1, method="sft"):
    params = {"method": method, "optimizer": "adam", "attention": "softmax-stable", "model": model, "seq": 48,
              "batch": 8, "layers": layers, "population": 4, "fot_mode": "batched", "seed": 0,
              "adam_sqrt_iters": sqrt, "adam_recip_iters": 10, "adam_positive": positive}
    scopes = {"": {"rounds": 100, "bytes": opt_bytes + 1e9, "compute_s": 1.0},
              "optimizer": {"rounds": 50, "bytes": opt_bytes, "compute_s": 0.5}}
    return rec("step", params, rounds=100, nbytes=opt_bytes + 1e9, compute_s=1.0, max_abs_err=1e-3,
               est_s={"lan": 1.0, "wan200": 2.0, "wan100": 3.0}, scopes=scopes, optimizer_rel_err=err,
               optimizer_gross_errors=1, optimizer_elements=1000)


def test_adam_choice_is_the_cheapest_setting_within_a_point_of_the_most_accurate():
    recs = [adam_record(10, False, 0.100, 30e9), adam_record(10, True, 0.105, 20e9),
            adam_record(3, True, 0.300, 10e9),  # cheapest, but 20 points worse
            adam_record(10, False, 0.01, 1e9, model="tiny")]  # another shape: not compared with these
    df = report.records_frame(recs)
    assert report.adam_choice(df) == (10, 10, True)
    table = report.adam_table(df)
    assert table["chosen"].tolist().count(True) == 1
    assert table.loc[table["chosen"], "optimizer_GB"].item() == pytest.approx(20)
    assert report.sft_baseline_label(df) == "SFT [Adam 10 sqrt + 10 recip Newton steps, no sign test]"
    # many records of one setting at another shape (every extrapolated step of the sweeps) do not
    # outvote the sensitivity sweep's three settings
    many = recs + [adam_record(10, False, 0.1, 40e9, layers=6) for _ in range(4)]
    assert report.adam_choice(report.records_frame(many)) == (10, 10, True)
    # without error measurements the defaults stand
    assert report.adam_choice(report.records_frame(step_records())) == (10, 10, False)


def test_paper_table_keeps_every_sft_setting_but_other_methods_at_the_chosen_one():
    large = [adam_record(10, False, None, 700e9, "large", 24), adam_record(10, True, None, 500e9, "large", 24),
             adam_record(10, False, None, 1e9, "large", 24, "lora"), adam_record(10, True, None, 0.8e9, "large", 24, "lora")]
    for r in large:
        r["params"]["seq"] = 512
    sensitivity = [adam_record(10, False, 0.100, 30e9), adam_record(10, True, 0.101, 20e9)]
    paper = report.paper_table(report.records_frame(large + sensitivity)).set_index("method")
    chosen = " [Adam 10 sqrt + 10 recip Newton steps, no sign test]"
    assert {"SFT", "SFT" + chosen, "LoRA" + chosen} == set(paper.index)
    assert paper.loc["SFT" + chosen, "GB_SFT_over"] == pytest.approx(1.0)
    assert paper.loc["SFT", "GB_SFT_over"] == pytest.approx(501 / 701)
    assert paper.loc["SFT" + chosen, "paper_GB"] == 970.7  # both SFT rows sit beside the published one


def test_block_table_is_one_block_per_candidate_from_the_measured_depths():
    r = step_records()[1]  # FoT (RFA), a sequential generation of 2 candidates, 24 blocks
    r["extrapolation"] = {"target_layers": 24, "measured_layers": [0, 1],
                          "measured": [{"layers": 0, "batch": 1, "rounds": 40, "bytes": 0.2e9, "offline_bytes": 0,
                                        "duplex_bytes": 0.1e9},
                                       {"layers": 1, "batch": 1, "rounds": 44, "bytes": 0.24e9, "offline_bytes": 2e6,
                                        "duplex_bytes": 0.12e9}]}
    table = report.block_table(report.records_frame([r]))
    row = table.iloc[0]
    assert row["method"] == "FoT (RFA)"
    assert row["block_rounds"] == 2 and row["block_GB"] == pytest.approx(0.02)  # (0.24 - 0.2) GB / 2 candidates
    assert row["block_lan_net_full_s"] == pytest.approx(2 * 2 * 0.8e-3 + 0.01e9 * 8 / 3e9)
    assert row["blocks_share_of_candidate_GB"] == pytest.approx(0.04e9 * 24 / 1e9)


def test_reproduction_lines_give_a_verdict_per_published_row():
    paper = pd.DataFrame([
        {"method": "SFT [Adam x]", "adam": "x", "GB": 700.0, "lan_net_half_s": 1.0, "lan_net_full_s": 0.5},
        {"method": "SFT", "adam": "d", "GB": 984.4, "lan_net_half_s": 1.0, "lan_net_full_s": 0.5},
        {"method": "Prompt tuning", "adam": "x", "GB": 232.6, "lan_net_half_s": 1.0, "lan_net_full_s": 0.5},
        {"method": report.DEEP_PROMPT_LABEL, "adam": "x", "GB": 240.0, "lan_net_half_s": 1.0, "lan_net_full_s": 0.5},
        {"method": "FoT (RFA)", "adam": "", "GB": 54.2, "lan_net_half_s": 147.2, "lan_net_full_s": 73.6}])
    text = "\n".join(report.paper_reproduction_lines(paper, "SFT [Adam x]", clamp_bytes=928.0))
    # like for like: SFT at CrypTen's Adam settings, the cheaper chosen setting beside it
    assert "**SFT**: 984.4 GB online against the published 970.7 GB (+1%): reproduced at random weights. " \
        "Pretrained weights add at least the forward's 46.7 GB." in text
    assert "(here d, CrypTen's); at the setting this report compares against (x: " in text
    assert "700.0 GB (-28%)" in text
    only_chosen = "\n".join(report.paper_reproduction_lines(paper.drop(index=1), "SFT [Adam x]"))
    assert "**SFT**: 700.0 GB online against the published 970.7 GB (-28%): not reproduced" in only_chosen
    # a forward-only candidate is one forward: pretrained weights' clamp moves it past the published figure
    assert "**FoT (RFA)**: 54.2 GB online against the published 56.6 GB (-4%): reproduced at random weights. " \
        "With pretrained weights about 100.9 GB (+78%): not reproduced." in text
    assert "P-tuning v2 (prompts before every block, full backward) costs 240.0 GB" in text
    assert "about 100.9 GB" in text  # 54.2 + 928 B x 24 x 512 x 4096 FFN elements


def test_amortisation_table_pairs_fresh_and_amortised_candidates_and_stays_out_of_the_paper_table():
    fresh = step_records()[1]  # FoT (RFA), sequential generation of 2: 1 GB, 100 rounds
    amortised = step_records()[1]
    amortised["params"].update(weight_masks="persistent", fixed_inputs="cached")
    amortised.update(bytes=0.6e9, rounds=98, one_time={"rounds": 2, "bytes": 0.3e9, "offline_bytes": 8,
                                                       "duplex_bytes": 0.15e9, "compute_s": 0.1})
    df = report.records_frame(step_records() + [amortised])
    table = report.amortisation_table(df)
    assert len(table) == 1
    row = table.iloc[0]
    assert row["method"] == "FoT (RFA)"
    assert (row["fresh_GB"], row["amortised_GB"], row["one_time_GB"]) == pytest.approx((0.5, 0.3, 0.3))
    assert (row["fresh_rounds"], row["amortised_rounds"], row["one_time_rounds"]) == (50, 49, 2)
    assert row["break_even_GB"] == pytest.approx(0.3 / 0.2)  # one-time bytes over bytes saved per candidate
    wan = PROFILES_LINKS["wan100"]
    saved = (50 * 2 * wan.latency_s + 0.5e9 * 8 / wan.bandwidth_bps) - (49 * 2 * wan.latency_s + 0.3e9 * 8 / wan.bandwidth_bps)
    assert row["break_even_wan100"] == pytest.approx((2 * 2 * wan.latency_s + 0.3e9 * 8 / wan.bandwidth_bps) / saved)
    assert fresh["params"].get("weight_masks") is None  # records older than the parameter count as fresh
    paper = report.paper_table(df)
    assert not paper["method"].str.contains("persistent").any()  # their one-time cost is not in a per-step row
    text = "\n".join(report.amortisation_lines(table))
    assert "0.5 GB -> 0.3 GB per candidate (0.2 GB, 40% saved; 50 -> 49 rounds)" in text


def test_beyond_paper_lines_give_every_variant_set_against_the_papers_row():
    paper = pd.DataFrame([
        {"method": "FoT (RFA)", "GB": 54.2, "offline_GB": 15.6, "rounds": 3286, "lan_net_half_s": 147.2},
        {"method": "FoT (RFA) + fourier GeLU + fused QKV", "GB": 14.35, "offline_GB": 28.9, "rounds": 2638,
         "lan_net_half_s": 40.4},
        {"method": "FoT (RFA) + fourier GeLU + fused QKV + fast inv sqrt", "GB": 14.36, "offline_GB": 28.9,
         "rounds": 2398, "lan_net_half_s": 40.2}])
    text = "\n".join(report.beyond_paper_lines(paper))
    assert "**FoT (RFA) + fourier GeLU + fused QKV**: 14.3 GB online" in text
    assert "**FoT (RFA) + fourier GeLU + fused QKV + fast inv sqrt**: 14.4 GB online" in text
    assert "(3.78x fewer bytes, 1.25x fewer rounds; published: 56.6 GB)" in text
    assert "1.37x fewer rounds" in text  # 3,286 / 2,398
    assert "see the `gelu` table" in text and "random weights" not in text
    # the opening quotes the gelu and layernorm tables' own rows; a lookup-max row names its weights
    gelu = pd.DataFrame([{"impl": "fourier", "backward": True, "rounds": 3, "bytes_per_element": 112.0, "range": 8.0},
                         {"impl": "fourier", "backward": False, "rounds": 2, "bytes_per_element": 48.0, "range": 39.0}])
    layernorm = pd.DataFrame([{"impl": "crypten", "rounds": 20, "max_abs_err": 0.02595},
                              {"impl": "fast", "rounds": 15, "max_abs_err": 0.0271}])
    lookup = pd.concat([paper, pd.DataFrame([
        {"method": "FoT (softmax)", "GB": 187.3, "offline_GB": 53.8, "rounds": 5110, "lan_net_half_s": 507.6},
        {"method": "FoT (softmax) + lookup max + fourier GeLU", "GB": 29.5, "offline_GB": 100.2, "rounds": 1990,
         "lan_net_half_s": 81.9}])])
    text = "\n".join(report.beyond_paper_lines(lookup, gelu, layernorm))
    assert "Fourier GeLU from one trig opening (2 rounds and 48 B per element at |x| <= 39" in text
    assert "(15 rounds per LayerNorm instead of 20, largest error 0.027 against 0.026" in text
    assert "29.5 GB online (100.2 GB offline, at random weights' score range: a pretrained model's needs more" in text


def test_layernorm_table_gives_per_token_costs_of_each_inverse_square_root():
    records = [rec("layernorm", {"impl": impl, "rows": 256, "hidden": 384, "low": 0.1, "high": 100.0, "seed": 0},
                   rounds=rounds, nbytes=nbytes, max_abs_err=0.027, max_rel_err=0.0076, compute_s=0.1, wall_s=0.2)
               for impl, rounds, nbytes in (("fast", 15, 4827136), ("crypten", 20, 4823040))]
    table = report.layernorm_table(report.records_frame(records)).set_index("impl")
    assert list(table.index) == ["crypten", "fast"]
    assert table.loc["fast", "rounds"] == 15 and table.loc["crypten", "rounds"] == 20
    assert table.loc["fast", "bytes_per_token"] == 4827136 / 256
    assert table.loc["crypten", "offline_bytes_per_token"] == 100 / 256


def test_the_full_depth_error_lines_name_each_runs_attention_task_and_rows():
    """softmax-lookup's full-depth error is its own line per task, not the paper softmax's."""
    from secfwt.report.versus_paper import depth_error_lines
    from secfwt.variants import SETTINGS

    def full(task, attention, err):
        params = {"method": "fot", "attention": attention, "model": "minilm", "task": task, "head": "sentence",
                  "seq": 64, "batch": 4, "layers": -1, "population": 2, "fot_mode": "batched",
                  **{name: setting.default for name, setting in SETTINGS.items()}}
        return rec("step", params, rounds=100, nbytes=1e9, max_abs_err=err, est_s={"lan": 1.0})

    # an extrapolated price record (1 block measured) beside a full-depth run pairs with it only when
    # every setting matches: the fast inverse square root's full-depth run has no shallow twin here
    shallow = full("sst2", "softmax-stable", 0.031)
    shallow["params"].update(extrapolate=True, seq=56, batch=32, population=20)
    shallow["extrapolation"] = {"measured_layers": [0, 1], "target_layers": -1}
    # an extrapolated per-candidate record (the amortisation table's: 2 candidates) at the run's own
    # length, stored first, prices no generation: the price record of a generation is named instead
    per_candidate = full("sst2", "softmax-stable", 0.045)
    per_candidate["params"].update(extrapolate=True, seq=64, batch=32, population=2)
    per_candidate["extrapolation"] = shallow["extrapolation"]
    fast = full("sst2", "softmax-stable", 0.0035)
    fast["params"].update(inv_sqrt="fast")
    df = report.records_frame([full("sst2", "softmax-lookup", 0.026), full("agnews", "softmax-lookup", 0.024),
                               full("sst2", "softmax-stable", 0.023), per_candidate, shallow, fast])
    lines = [line for line in depth_error_lines(df) if line.startswith("- ")]
    assert lines == ["- FoT (softmax) + lookup max, agnews (4 sentences x 2 candidates): 2.40e-02 at L = 64.",
                     "- FoT (softmax) + lookup max, sst2 (4 sentences x 2 candidates): 2.60e-02 at L = 64.",
                     "- FoT (softmax), sst2 (4 sentences x 2 candidates): 2.30e-02 at L = 64 (the extrapolated price "
                     "record of a generation, 32 sentences x 20 candidates at L = 56, measured at 1 block(s): "
                     "3.10e-02).",
                     "- FoT (softmax) + fast inv sqrt, sst2 (4 sentences x 2 candidates): 3.50e-03 at L = 64."]


def test_the_committed_paper_table_gives_each_configuration_one_label():
    """Two configurations under one label are one row to every table that looks rows up by label
    (the 2 x 2 once showed softmax-lookup's cheap FoT row as softmax-stable's)."""
    from pathlib import Path

    records = report.load_records(sorted((Path(__file__).resolve().parents[1] / "reports/records").glob("*.jsonl")))
    table = report.paper_table(report.records_frame(report.latest_records(records)))
    assert len(table) >= 8
    assert not table["method"].duplicated().any(), list(table["method"][table["method"].duplicated()])


def test_an_extrapolated_compute_that_did_not_grow_gives_no_time_with_compute():
    """Counts stay exact, network-only times stand; but where the deeper (or larger-batch) run measured
    less compute than the shallower, the extrapolated compute is a floored noisy difference: the paper
    table shows no `lan_s` for it, rather than 24 blocks at no compute."""
    from secfwt.results import compute_from_noise

    def measured(c0, c1, b2=None):
        points = [{"layers": 0, "batch": 1, "compute_s": c0}, {"layers": 1, "batch": 1, "compute_s": c1}]
        if b2 is not None:
            points += [{"layers": 0, "batch": 2, "compute_s": c0 + b2}, {"layers": 1, "batch": 2, "compute_s": c1 + b2}]
        return {"extrapolation": {"target_layers": 24, "measured_layers": [0, 1],
                                  "measured": [{**p, "rounds": 1, "bytes": 1} for p in points]}}

    assert not compute_from_noise(measured(38.0, 40.0)) and compute_from_noise(measured(38.8, 37.5))
    assert compute_from_noise(measured(38.0, 38.0))  # no growth: nothing measured either
    assert not compute_from_noise(measured(1.0, 2.0, b2=0.5)) and compute_from_noise(measured(1.0, 2.0, b2=-0.1))
    assert not compute_from_noise({"extrapolation": {"measured": [{"rounds": 1}]}})  # old layout: depths apart
    good, noisy = step_records()[1], step_records()[2]
    good.update(measured(38.0, 40.0))
    noisy.update(measured(38.8, 37.5))
    df = report.records_frame([good, noisy])
    assert df.loc[0, "compute_s"] == 1.0 and df.loc[0, "est_s_lan"] > 1.0
    assert df.loc[1, ["compute_s", "est_s_lan", "est_s_wan100", "forward_compute_s"]].isna().all()
    assert df.loc[1, "rounds"] == 100 and df.loc[1, "bytes"] == 3e9  # the counts are untouched
    paper = report.paper_table(df).set_index("method")
    assert pd.isna(paper.loc["FoT (softmax)", "lan_s"]) and paper.loc["FoT (RFA)", "lan_s"] > 0
    assert paper.loc["FoT (softmax)", "lan_net_half_s"] > 0


def test_provenance_has_a_row_per_cpu_and_names_the_latest_commit():
    """Times with compute are comparable on one CPU only: a workload measured on two gets two rows, each
    with its own commits counted and the git sha of its latest record (not of its first)."""
    from secfwt.report.frame import provenance

    def at(cpu, sha, date):
        r = rec("step", {"method": "fot"}, rounds=1, nbytes=1)
        r["env"] = {"cpu": cpu, "git_sha": sha, "date": date, "cores": 2}
        return r

    table = provenance([at("AMD EPYC", "aaa", "2026-12-01"), at("Intel Xeon", "ccc", "2026-12-02"),
                        at("AMD EPYC", "bbb", "2026-12-03"), at("AMD EPYC", "aaa", "2026-12-02")])
    by = table.set_index("cpu")
    assert list(table["cpu"]) == ["AMD EPYC", "Intel Xeon"] and list(by["records"]) == [3, 1]
    assert by.loc["AMD EPYC", "commits"] == 2 and by.loc["AMD EPYC", "git_sha"] == "bbb"
    assert (by.loc["AMD EPYC", "first"], by.loc["AMD EPYC", "last"]) == ("2026-12-01", "2026-12-03")
