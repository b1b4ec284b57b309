"""The inference table (secfwt/report/inference.py): one forward read off the 2- and 3-candidate runs
exactly, beside the published anchors, which come from secfwt.paper and are not typed in the report."""

import pytest

from secfwt import paper
from secfwt.profiles import INFERENCE_CONFIGS, PROFILES
from secfwt.report.inference import depth_table, inference_table, paper_shape_table, summary_lines

LABEL = "softmax-lookup, the cheap protocols, persistent weight masks (exact)"


def _record(population: int, fixed: float, per_candidate: float, rounds: int = 800) -> dict:
    """A FoT generation whose counts are fixed + population x per_candidate (as a real run's are)."""
    config = {k: v[0] for k, v in INFERENCE_CONFIGS[LABEL].items()}
    params = {"model": paper.INFERENCE_MODEL, "seq": paper.INFERENCE_SEQ, "batch": 1, "method": "fot",
              "population": population, **config}
    total = fixed + population * per_candidate
    return {"workload": "step", "status": "ok", "provider": "ttp", "params": params, "rounds": rounds,
            "bytes": total, "offline_bytes": 10 * total, "one_time": {"bytes": 2e9},
            "scopes": {"forward.embeddings": {"bytes": population * 1e6},
                       "forward.layers.attn.softmax.max": {"bytes": population * 3e7},
                       "one_time.embeddings": {"bytes": 6e7}}}


def test_one_forward_is_read_off_two_and_three_candidates_exactly():
    table = inference_table([_record(2, 5e7, 9.5e8), _record(3, 5e7, 9.5e8)])
    ours = table[table["system"] == f"secfwt: {LABEL}"].iloc[0]
    assert ours["online_GB"] == pytest.approx((5e7 + 9.5e8) / 1e9)  # fixed part kept once, not halved
    assert ours["dealer_GB"] == pytest.approx(10 * (5e7 + 9.5e8) / 1e9)
    assert ours["rounds"] == 800 and ours["one_time_GB"] == pytest.approx(2.0)
    assert ours["softmax_max_GB"] == pytest.approx(0.03) and ours["word_lookup_GB"] == pytest.approx(0.061)
    assert ours["wan100_net_s"] == pytest.approx(800 * 2 * 0.08 + 1e9 * 8 / 100e6)  # CrypTen: 2 round trips a round
    assert ours["wan100_net_1rt_s"] == pytest.approx(800 * 0.08 + 1e9 * 8 / 100e6)


def test_the_anchors_come_from_the_paper_module_with_their_conventions():
    table = inference_table([_record(2, 0, 1e9), _record(3, 0, 1e9)])
    published = table[~table["system"].str.startswith("secfwt")]
    assert len(published) == len(paper.PUBLISHED_INFERENCE) == 3
    sigma = published[published["system"].str.startswith("SIGMA")].iloc[0]
    assert (sigma["online_GB"], sigma["dealer_GB"], sigma["rounds"]) == (0.989, 16.8, 1128)
    assert all("counts" in s for s in published["source"])
    # a published protocol's round is one exchange: one round trip, in both columns
    assert sigma["wan100_net_s"] == pytest.approx(1128 * 0.08 + 0.989e9 * 8 / 100e6)
    assert sigma["wan100_net_1rt_s"] == pytest.approx(sigma["wan100_net_s"])


def test_nothing_without_both_runs_and_the_profile_measures_both():
    assert not len(inference_table([_record(2, 0, 1e9)]))
    sweeps = [s for s in PROFILES["inference"]["sweeps"] if s.grid.get("model") == [paper.INFERENCE_MODEL]]
    assert len(sweeps) == len(INFERENCE_CONFIGS) and all(s.grid["population"] == [2, 3] for s in sweeps)
    assert all(s.grid["seq"] == [128] for s in sweeps)


def test_the_full_depth_rows_pair_lookup_with_stable_per_task():
    base = {"workload": "step", "status": "ok", "rounds": 600, "bytes": 6e9, "offline_bytes": 1.7e10,
            "tolerance": 0.05, "scopes": {}}
    records = [{**base, "params": {"model": "minilm", "seq": 64, "task": t, "attention": a, "method": "fot",
                                   "head": "sentence"}, "max_abs_err": e}
               for t, a, e in (("sst2", "softmax-lookup", 0.027), ("sst2", "softmax-stable", 0.023),
                               ("sst2", "rfa-onepass", 0.5))]
    table = depth_table(records)
    assert list(table["attention"]) == ["softmax-lookup", "softmax-stable"]
    assert list(table["max_abs_err"]) == [0.027, 0.023]
    # a full-depth record's per-layer scopes are summed
    layered = {**records[0], "scopes": {f"forward.layer{i}.attn.softmax.max": {"bytes": 1e9} for i in range(6)}}
    assert depth_table([layered])["softmax_max_GB"].iloc[0] == pytest.approx(6.0)


def test_the_paper_shape_rows_are_per_candidate():
    base = {"workload": "step", "status": "ok", "rounds": 9000, "scopes": {}}
    params = {"model": paper.MODEL, "seq": paper.SEQ, "method": "fot", "fot_mode": "sequential", "gelu": "fourier",
              "qkv": "fused", "population": 2}
    records = [{**base, "params": {**params, "attention": "softmax-stable"}, "bytes": 294.8e9, "offline_bytes": 134e9,
                "scopes": {"forward.layers.attn.softmax.max": {"bytes": 238.9e9}}},
               {**base, "params": {**params, "attention": "softmax-lookup"}, "bytes": 60e9, "offline_bytes": 500e9},
               {**base, "params": {**params, "attention": "softmax-lookup", "weight_masks": "persistent"},
                "bytes": 1.0, "offline_bytes": 1.0}]
    table = paper_shape_table(records)
    assert list(table["attention"]) == ["softmax-lookup", "softmax-stable"]
    assert list(table["online_GB_per_candidate"]) == [30.0, 147.4]
    assert table["softmax_max_GB_per_candidate"].iloc[1] == pytest.approx(119.45)


def test_the_summary_line_sets_the_exact_forward_beside_the_published_ones():
    line = summary_lines([_record(2, 5e7, 9.5e8), _record(3, 5e7, 9.5e8)])[0]
    assert "costs 1 GB online and 800 rounds" in line and "SIGMA 0.989 GB / 1,128 rounds / 169 s" in line
    # rounds are not one unit across systems: the network time says what they cost on WAN-100 (80 ms,
    # 100 Mbit/s): 800 x 2 x 80 ms + 8 Gbit / 100 Mbit/s = 208 s; 144 s at one round trip a round
    assert "208 s of WAN-100 network time (CrypTen's 2 round trips a round; 144 s at the published systems' 1)" \
        in line
    assert "FuseFSS 0.83 GB / 1,116" in line and "SHAFT" not in line  # SHAFT gives only a total
    assert summary_lines([_record(2, 0, 1e9)]) == []


def test_the_summary_line_adds_softmax_lookups_agreement_with_the_exact_model_per_task():
    """The agreement profile's windows of one task add up, sentence-weighted; another attention's
    windows and a lone window are not in the line."""

    def window(task, offset, agreement, attention="softmax-lookup", rows=50):
        params = {"task": task, "attention": attention, "layers": -1, "generations": 1, "population": 2,
                  "train_rows": 2, "seq": 52, "test_offset": offset}
        return {"workload": "fot-mpc", "status": "ok", "params": params, "loss_max_abs_err": 0.01,
                "rankings_equal": True, "test_rows": rows, "test_agreement": agreement, "reveal_audit": {},
                "bytes": 1e9, "offline_bytes": 1e9, "rounds": 100}

    windows = [window("sst2", 0, 1.0), window("sst2", 50, 0.9, rows=20), window("agnews", 0, 0.96),
               window("agnews", 50, 1.0),
               window("sst2", 0, 0.5, "rfa-onepass"), window("rte", 0, 0.5)]
    line = summary_lines([_record(2, 5e7, 9.5e8), _record(3, 5e7, 9.5e8)] + windows)[0]
    assert "equals the exact model's on sst2 68 of 70 (97.1%); agnews 98 of 100 (98.0%) test sentences" in line
    assert "rte" not in line
    assert "MiniLM" not in summary_lines([_record(2, 5e7, 9.5e8), _record(3, 5e7, 9.5e8)])[0]
