"""The paper's claims: verdicts with their uncertainty, from records whose answers are known."""

import numpy as np
import pytest

from secfwt import data
from secfwt.report import accuracy, claims


def labels(task, seed=13):
    return claims.test_labels(task, seed)


def flipped(y, wrong: int, start: int = 0) -> str:
    """Predictions that get ``wrong`` rows wrong (from row ``start`` on) and the rest right."""
    preds = y.copy()
    preds[start:start + wrong] = (preds[start:start + wrong] + 1) % (y.max() + 1)
    return "".join(map(str, preds))


def tune(task, method, seed, final_wrong, budget=100, attention="softmax-stable", zero_wrong=None, short_wrong=None,
         dev_at_short=0.6, error_start=None):
    """A finished tune record whose selected checkpoint gets ``final_wrong`` test rows wrong (and,
    with ``short_wrong``, one at 20 units that gets that many wrong).  SFT's errors are the first
    rows, FoT's from the middle on (or from ``error_start``): the methods disagree on rows, as real
    runs do."""
    y = labels(task, seed)
    n = len(y)
    traj = [{"units": 0, "evaluations": 0, "train_loss": float("nan"), "dev_acc": 0.5,
             "test_acc": 1 - n // 2 / n, "test_pred": flipped(y, n // 2)}]
    if short_wrong is not None:
        traj.append({"units": 20, "evaluations": 400, "train_loss": 0.5, "dev_acc": dev_at_short,
                     "test_acc": 1 - short_wrong / n, "test_pred": flipped(y, short_wrong, start=n // 3)})
    traj.append({"units": budget, "evaluations": 20 * budget, "train_loss": 0.3, "dev_acc": 0.9,
                 "test_acc": 1 - final_wrong / n,
                 "test_pred": flipped(y, final_wrong, start=error_start if error_start is not None
                                      else n // 2 if method == "fot" else 0)})
    zero = final_wrong if zero_wrong is None else zero_wrong
    return {"workload": "tune", "status": "ok", "unit": "generation" if method == "fot" else "step",
            "params": {"task": task, "method": method, "seed": seed, "attention": attention, "budget": budget,
                       "population": 20, "test_rows": 0},
            "trajectory": traj, "zero_shot_acc": 1 - zero / n, "zero_shot_pred": flipped(y, zero),
            "start_acc": traj[0]["test_acc"], "final_acc": traj[-1]["test_acc"], "last_acc": traj[-1]["test_acc"],
            "lr": None, "batch": 8, "train_size": 32}


def test_bootstrap_interval_has_the_binomial_width():
    """One seed, accuracy p on n rows: the 95% interval is about p +- 1.96 sqrt(p (1 - p) / n)."""
    y = labels("sst2")
    n = len(y)
    run = {13: claims._run("sst2", {"seed": 13, "test_rows": 0}, 0.8, flipped(y, n // 5))}
    est = claims.estimate(run)
    half = 1.96 * np.sqrt(0.8 * 0.2 / n)
    assert est.mean == pytest.approx(0.8) and est.std == 0 and est.seeds == 1
    assert est.lo == pytest.approx(0.8 - half, abs=0.006) and est.hi == pytest.approx(0.8 + half, abs=0.006)


def test_paired_differences_see_the_rows_both_methods_share():
    """Two methods that differ on 10 of 500 rows: the paired interval is about +-0.9 points around
    2 points, far tighter than two independent +-3.5-point intervals would give; the same predictions
    differ by exactly 0."""
    y = labels("sst2")
    a = {13: claims._run("sst2", {"seed": 13, "test_rows": 0}, 0.9, flipped(y, 50))}
    b = {13: claims._run("sst2", {"seed": 13, "test_rows": 0}, 0.88, flipped(y, 60))}
    d = claims.estimate(a, b)
    assert d.mean == pytest.approx(0.02) and d.verdict() == "better"
    assert 0.005 < d.lo < 0.02 < d.hi < 0.035
    same = claims.estimate(a, a)
    assert (same.lo, same.hi, same.verdict()) == (0.0, 0.0, "not distinguishable")
    assert claims.estimate(b, a).verdict() == "worse"


def test_f1_of_the_positive_label():
    y = np.array([1, 1, 1, 0, 0])
    assert claims.f1(np.array([1, 1, 0, 1, 0]), y) == pytest.approx(2 * 2 / (3 + 3))
    assert claims.f1(np.zeros(5, int), y) == 0.0


def test_claims_table_reports_mean_spread_interval_and_f1_per_task():
    records = [tune("mrpc", "sft", s, 40 + s % 3) for s in (13, 21, 42)] + \
              [tune("mrpc", "fot", s, 60) for s in (13, 21, 42)]
    table = claims.accuracy_table(accuracy.summaries(records)).set_index("method")
    assert list(table.index) == ["untuned head", "FoT (softmax)", "SFT"]
    n = 408
    sft = [1 - (40 + s % 3) / n for s in (13, 21, 42)]
    assert table.loc["SFT", "accuracy"] == f"{np.mean(sft):.3f} +- {np.std(sft):.3f}"
    assert table.loc["SFT", "seeds"] == 3 and table.loc["SFT", "budget"] == "100 steps"
    lo, hi = (float(x) for x in table.loc["SFT", "95% CI"].split(" to "))
    assert lo < np.mean(sft) < hi and hi - lo < 0.06
    y = labels("mrpc")
    f1 = claims.f1(np.array([int(c) for c in flipped(y, 60, start=len(y) // 2)]), y)
    assert table.loc["FoT (softmax)", "F1"] == f"{f1:.3f} +- 0.000"


def test_the_verdicts_follow_the_numbers():
    """SST-2 and MRPC: FoT within a few rows of SFT, but on other rows, so the intervals (about +-3
    points) reach past the 2-point margin: claim 1 is not decided, neither a win nor "comparable";
    AG News: FoT 15 points below SFT, binary tasks 0.4-0.5: claim 2 holds; AG News FoT 10 points
    better at 100 generations than at 20, still below SFT: claim 3 holds partly."""
    records = []
    for s in (13, 21, 42):
        records += [tune("sst2", "sft", s, 100, zero_wrong=110), tune("sst2", "fot", s, 102),
                    tune("mrpc", "sft", s, 80), tune("mrpc", "fot", s, 78),
                    tune("agnews", "sft", s, 40), tune("agnews", "fot", s, 100, short_wrong=140)]
    lines = claims.claim_lines(records)
    assert len(lines) == 3
    # MRPC: FoT 0.5 points above SFT, inside the noise: not a win, and not shown comparable either
    assert "mrpc: FoT - SFT +0.5" in lines[0] and lines[0].count("not decided (the interval reaches past +-2") == 2
    assert "and better on MRPC: not decided (neither a difference nor comparability within +-2 points)" in lines[0]
    assert "sst2: FoT - SFT -0.4" in lines[0] and "comparable (" not in lines[0]
    assert "sst2: FoT - SFT -0.4 (3 seeds: +-0.0; 95% CI -3." in lines[0]  # the interval is ~+-3 points wide
    assert "SFT - untuned head +2.0 (3 seeds" in lines[0]  # 10 of 500 rows better than the untuned head
    assert lines[1].startswith("2. **FoT drops more on AG News (4 classes) than on binary tasks: holds.**")
    assert "AG News drop (SFT - FoT) +15.0" in lines[1] and lines[1].count("points, AG News drops more") == 2
    assert "holds partly (the drop shrinks but does not close)" in lines[2]
    assert "at 20: +10.0" in lines[2]


def test_comparable_needs_the_whole_interval_inside_the_margin():
    """FoT wrong on the rows SFT is wrong on, 2 more on SST-2 (-0.4 points, a tight interval): comparable;
    on MRPC the same rows (0 +- 0): comparable, not better -> holds partly; on MRPC 10 fewer (+2.5
    points, interval above 0): better -> holds."""
    same, better = [], []
    for s in (13, 21, 42):
        sst2 = [tune("sst2", "sft", s, 100), tune("sst2", "fot", s, 102, error_start=0)]
        same += sst2 + [tune("mrpc", "sft", s, 80), tune("mrpc", "fot", s, 80, error_start=0)]
        better += sst2 + [tune("mrpc", "sft", s, 80), tune("mrpc", "fot", s, 70, error_start=0)]
    line = claims.claim_lines(same)[0]
    assert "and better on MRPC: holds partly; FoT is not better than SFT on MRPC.**" in line
    assert line.count("comparable (within +-2 points)") == 2
    mixed = [r for r in same if r["params"]["task"] != "sst2"]
    for s in (13, 21, 42):
        mixed += [tune("sst2", "sft", s, 50), tune("sst2", "fot", s, 150)]  # 20 points worse
    line = claims.claim_lines(mixed)[0]
    assert "and better on MRPC: holds partly (comparable on mrpc only; FoT is worse than SFT on sst2); FoT is " \
        "not better than SFT on MRPC.**" in line
    line = claims.claim_lines(better)[0]
    assert "and better on MRPC: holds.**" in line
    mrpc = line[line.index("mrpc: FoT - SFT"):]
    assert mrpc.startswith("mrpc: FoT - SFT +2.5") and ") points, better; FoT - untuned head" in mrpc


def test_a_worse_fot_fails_claim_one_and_a_flat_one_fails_claim_three():
    records = []
    for s in (13, 21, 42):
        records += [tune("sst2", "sft", s, 50), tune("sst2", "fot", s, 150),
                    tune("mrpc", "sft", s, 40), tune("mrpc", "fot", s, 140),
                    tune("agnews", "sft", s, 40), tune("agnews", "fot", s, 100, short_wrong=100)]
    lines = claims.claim_lines(records)
    assert "and better on MRPC: does not hold (FoT is worse than SFT on sst2 and mrpc).**" in lines[0]
    assert "mitigate the AG News drop: not distinguishable" in lines[2]


def test_budgets_compare_seeds_where_all_reached():
    """A seed that ran to 200 generations is compared at 100 with the others (selected on dev within
    100), and reported on its own beyond."""
    records = [tune("agnews", "fot", 21, 100), tune("agnews", "fot", 42, 100)]
    long = tune("agnews", "fot", 13, 90, budget=200)
    long["trajectory"].insert(1, {**long["trajectory"][-1], "units": 100, "dev_acc": 0.8, "test_acc": 0.7,
                                  "test_pred": flipped(labels("agnews"), 120)})
    records.append(long)
    summary = accuracy.summaries(records)
    assert set(summary["budget"]) == {100}
    assert summary.set_index("seed").loc[13, "final_acc"] == 0.7
    assert "seed 13 to 200 generations: 0.700 at 100, 0.775 at 200" == claims._longest_seed_line(records)


def test_predictions_must_match_the_test_rows():
    record = tune("sst2", "sft", 13, 10)
    record["trajectory"][-1]["test_pred"] = record["trajectory"][-1]["test_pred"][:-1]
    with pytest.raises(ValueError, match="499 stored predictions for 500 test rows"):
        claims.accuracy_table(accuracy.summaries([record]))


def test_rte_labels_follow_each_seed_test_rows():
    assert len(claims.test_labels("rte", 13)) == len(data.load("rte", "test", 13)) == 213
    assert list(claims.test_labels("mrpc", 13, rows=5)) == [r["label"] for r in data.load("mrpc", "test")[:5]]


def test_the_reported_accuracy_is_chosen_on_dev_never_on_test():
    """A checkpoint with a better test accuracy but a worse dev accuracy is not the one reported."""
    record = tune("sst2", "fot", 13, 100, short_wrong=10, dev_at_short=0.6)  # at 20: test 0.98, dev 0.6
    row = accuracy.summaries([record]).iloc[0]
    assert row["selected_units"] == 100 and row["final_acc"] == pytest.approx(0.8)
    assert claims.at_budget([record], "sst2", "FoT (softmax)", 20)[13]["acc"] == pytest.approx(0.98)


def test_runs_without_stored_predictions_decide_no_claim():
    """Old records (no predictions) give the seed spread, never a verdict dressed as one."""
    records = []
    for s in (13, 21, 42):
        records += [tune("sst2", "sft", s, 50), tune("sst2", "fot", s, 150), tune("mrpc", "sft", s, 40),
                    tune("mrpc", "fot", s, 140), tune("agnews", "sft", s, 40), tune("agnews", "fot", s, 100)]
    for r in records:
        for row in r["trajectory"]:
            row.pop("test_pred")
    lines = claims.claim_lines(records)
    assert "and better on MRPC: not decided" in lines[0] and "no interval" in lines[0]
    assert "than on binary tasks: not decided" in lines[1]
    # AG News FoT without a checkpoint at 20 generations: claim 3 has nothing to cut at, and says so
    assert "mitigate the AG News drop: not tested yet** (FoT runs of AG News beyond 20 generations, with a " \
        "checkpoint at 20, needed)" in lines[2]


def test_the_summary_table_says_a_budget_that_is_not_its_tasks_and_rfas_own_untuned_head():
    """FoT (RFA) at 20 generations beside 100-unit runs says so in its cell, and the summary names the
    untuned head with RFA (its own starting line), not only softmax's."""
    records = [tune("sst2", "sft", 13, 100), tune("sst2", "fot", 13, 120),
               tune("sst2", "fot", 13, 150, budget=20, attention="rfa-onepass", zero_wrong=180)]
    summary = accuracy.summaries(records)
    wide = claims.pivot(claims.accuracy_table(summary)).set_index("task")
    assert wide.loc["sst2", "FoT (RFA)"].endswith(" at 20 generations")
    assert "at" not in wide.loc["sst2", "FoT (softmax)"] and "at" not in wide.loc["sst2", "SFT"]
    # a method over fewer seeds than the task's others says so (MRPC: FoT at 3 seeds, SFT at 5)
    records += [tune("sst2", "sft", 21, 90), tune("sst2", "fot", 21, 150, budget=20, attention="rfa-onepass")]
    wide = claims.pivot(claims.accuracy_table(accuracy.summaries(records))).set_index("task")
    assert wide.loc["sst2", "FoT (softmax)"].endswith(" (1 seed)") and "seed" not in wide.loc["sst2", "SFT"]
    assert wide.loc["sst2", "FoT (RFA)"].endswith(" at 20 generations") and "seed" not in wide.loc["sst2", "untuned head"]
    # the untuned head's seeds are every method's together: not the count the others are set against
    other = [tune("mrpc", "sft", s, 80) for s in (13, 21, 87)] + [tune("mrpc", "fot", s, 80) for s in (13, 21, 42)]
    wide = claims.pivot(claims.accuracy_table(accuracy.summaries(other))).set_index("task")
    assert "seed" not in wide.loc["mrpc", "SFT"] and "seed" not in wide.loc["mrpc", "FoT (softmax)"]
    n = len(labels("sst2"))
    [note, _] = claims._rfa_untuned_note(summary)
    assert f"scores sst2 {1 - 180 / n:.3f}" in note


def test_what_rfa_costs_fot_is_set_against_softmax_fot_cut_at_its_budget_and_its_own_untuned_head():
    """FoT (RFA) at 20 generations gets 150 of 500 rows wrong; FoT (softmax) reports 140 wrong at 20
    generations (its 100-generation run cut there, not its 100-generation result): -2.0 points; the
    untuned head with RFA gets 180 wrong: +6.0 points."""
    records = []
    for s in (13, 21, 42):
        records += [tune("sst2", "fot", s, 100, short_wrong=140),
                    tune("sst2", "fot", s, 150, budget=20, attention="rfa-onepass", zero_wrong=180)]
    [intro, _, task, line, _] = claims.rfa_cost_lines(records)
    assert line.startswith("  - FoT (RFA) at 20 generations: 0.700 (3 seeds")
    assert "minus FoT (softmax) at 20 generations -2.0 (3 seeds: +-0.0; 95% CI" in line
    assert "minus the untuned head with RFA +6.0 (3 seeds" in line and line.endswith("points, better.")
    # the softmax head gets 100 rows wrong, RFA's 180: RFA's penalty before any tuning
    assert task.startswith("- sst2: before any tuning, RFA costs the untuned head -16.0 (3 seeds: +-0.0; 95% CI")
    assert claims.rfa_cost_lines([r for r in records if r["params"]["attention"] != "rfa-onepass"]) == []
    # a budget the softmax runs have no checkpoint at (AG News: RFA at 8 generations, FoT every 10) is
    # not cut at an earlier checkpoint (its start): those seeds are left out
    rfa8 = [tune("sst2", "fot", s, 150, budget=8, attention="rfa-onepass", zero_wrong=180) for s in (13, 21, 42)]
    softmax = [r for r in records if r["params"]["attention"] != "rfa-onepass"]
    assert claims.at_budget(softmax, "sst2", "FoT (softmax)", 8) == {}
    [_, _, _, line, _] = claims.rfa_cost_lines(softmax + rfa8)
    assert "minus FoT (softmax)" not in line and "minus the untuned head with RFA" in line


def test_what_rfa_costs_a_gradient_method_is_set_against_the_method_with_softmax_cut_at_its_budget():
    """SFT + RFA at 20 steps gets 120 of 500 rows wrong; SFT (softmax) got 140 wrong at its 20-step
    checkpoint and 100 at 100 steps: +4.0 points against the cut run (not -4.0 against the longer
    one); the untuned head with RFA gets 180 wrong (+12.0 after tuning), softmax's 100 (RFA's penalty
    before tuning -16.0).  A run with RFA and the Fourier GeLU starts from another head: its zero-shot
    (250 wrong) is not RFA's penalty."""
    records = []
    for s in (13, 21, 42):
        records += [tune("sst2", "sft", s, 100, short_wrong=140),
                    tune("sst2", "sft", s, 120, budget=20, attention="rfa-onepass", zero_wrong=180)]
    fourier = tune("sst2", "sft", 13, 110, budget=20, attention="rfa-onepass", zero_wrong=250)
    fourier["params"]["gelu"] = "fourier"
    [intro, _, task, line, other, _] = claims.rfa_cost_lines(records + [fourier])
    assert "a gradient method can adapt its weights" in intro
    assert task.startswith("- sst2: before any tuning, RFA costs the untuned head -16.0 (3 seeds: +-0.0; 95% CI")
    assert line.startswith("  - SFT + RFA at 20 steps: 0.760 (3 seeds")
    assert "minus SFT at 20 steps +4.0 (3 seeds: +-0.0; 95% CI" in line
    assert "minus the untuned head with RFA +12.0 (3 seeds: +-0.0" in line and line.endswith("points, better.")
    # the Fourier GeLU's own line is set against its own zero-shot (250 wrong: +28.0)
    assert other.startswith("  - SFT + RFA + fourier GeLU at 20 steps: 0.780 (1 seed")
    assert "minus the untuned head with RFA +28.0 (1 seed" in other


def test_the_untuned_head_is_read_from_runs_of_the_papers_own_model():
    """A run with RFA or the Fourier GeLU starts from another head: seed 87's only run (RFA + Fourier
    GeLU) adds no seed to the untuned head, and seed 13's RFA run, listed first, does not stand in for
    softmax's zero-shot predictions."""
    n = len(labels("sst2"))
    rfa = {"attention": "rfa-onepass", "zero_wrong": 180, "budget": 20}
    fourier = tune("sst2", "fot", 87, 150, **rfa)
    fourier["params"]["gelu"] = "fourier"
    records = [tune("sst2", "fot", 13, 150, **rfa), tune("sst2", "fot", 13, 120, zero_wrong=130), fourier]
    summary = accuracy.summaries(records)
    assert list(summary["paper_forward"]) == [False, True, False]
    head = claims.runs_of(summary, "sst2", claims.UNTUNED)
    assert sorted(head) == [13] and head[13]["acc"] == pytest.approx(1 - 130 / n)
    table = claims.accuracy_table(summary).set_index("method")
    assert table.loc["untuned head", "seeds"] == 1 and table.loc["untuned head", "accuracy"] == f"{1 - 130 / n:.3f} +- 0.000"
    # a price-only variant (persistent weight masks) computes the same model: its zero-shot counts
    masks = tune("sst2", "sft", 21, 100, zero_wrong=140)
    masks["params"]["weight_masks"] = "persistent"
    assert accuracy.summaries([masks])["paper_forward"].tolist() == [True]
