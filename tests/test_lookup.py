"""Dealer-assisted table lookups (secfwt/mpc/lookup.py) and the softmax without CrypTen's secure max
built on them (attention variant softmax-lookup), against plaintext PyTorch on the same inputs.

Counts are exact (one opening of 16 B per comparison, one round per level of the max's tree);
values are checked against what the parties hold, including next to the window's edges, where a
dropped bit or a shifted index shows."""


import math

import pytest
import torch

from secfwt.links import PROFILES
from secfwt.mpc import lookup as lut
from secfwt.mpc.parties import Task, run_parties
from secfwt.nn import attention as attn
from secfwt.runner import run_one

LINKS = [PROFILES["lan"]]
REACH = 40.0


def test_windows_are_the_smallest_that_read_their_reach():
    w = lut.window_for(REACH, 1)
    assert (w.bits, w.entries, w.step) == (8, 256, 0.5) and w.reach == 63.5
    assert lut.window_for(63.5, 1).bits == 8 and lut.window_for(64.0, 1).bits == 9
    assert lut.window_for(10.0, 0, centre=5.0).reach >= 10.0
    with pytest.raises(ValueError):
        lut.window_for(0.0, 1)
    with pytest.raises(ValueError):
        lut.Window(60, 0).shift(16)  # a 60-bit window of a 16-bit fixed-point value leaves the ring


def test_the_reciprocal_start_is_within_a_half_on_every_cell():
    """The optimal constant per cell [a, b) of the denominator's window (cells 2 wide, floored at 1):
    |1 - x y0| <= 1/2 (the cell [1, 3)), so 4 Newton steps leave (1/2)^16 = 1.5e-5, fixed point's own
    resolution; away from the floor the start is far better (inputs above 5: <= 1/4)."""
    w = attn.lookup_windows(128, attn.SCORE_BOUND, masked=True)[1]
    v = torch.arange(-w.entries // 2, w.entries // 2, dtype=torch.float64)
    y0 = lut.reciprocal_start(v, w.step, w.centre, 1.0)
    worst, worst_above = 0.0, 0.0
    for offset in torch.linspace(0.0, 1.999, 41).tolist():
        x = torch.clamp(w.centre + (v + offset) * w.step, min=1.0)
        e = (1 - x * y0).abs()
        worst, worst_above = max(worst, e.max().item()), max(worst_above, e[x >= 5].max().item())
    assert 0.45 < worst <= 1 / 2 + 1e-9 and worst_above <= 1 / 4 + 1e-9


def test_long_sequences_read_the_denominator_coarser_and_take_more_newton_steps():
    """The denominator's table stays within 2^13 entries; the Newton steps are what the start's worst
    cell needs to reach 2^-16: 4 up to L = 128, then one more per halving of the resolution."""
    steps = {}
    for seq in (32, 128, 256, 512):
        den = attn.lookup_windows(seq, attn.SCORE_BOUND, masked=True)[1]
        assert den.bits <= attn.LOOKUP_RECIPROCAL_MAX_BITS
        assert den.centre + den.reach >= seq * math.exp(lut.tree_depth(seq) * 0.5)  # the whole range is read
        steps[seq] = (den.resolution_bits, attn.reciprocal_newton_steps(den))
    assert steps == {32: (0, 4), 128: (0, 4), 256: (-1, 5), 512: (-3, 7)}
    # the step count is computed, not assumed: one step fewer leaves more than the target
    den = attn.lookup_windows(512, attn.SCORE_BOUND, masked=True)[1]
    v = torch.arange(-(den.entries // 2), den.entries // 2, dtype=torch.float64)
    lo = torch.clamp(den.centre + v * den.step, min=1.0)
    worst = (1 - lo * lut.reciprocal_start(v, den.step, den.centre, 1.0)).abs().max().item()
    assert worst ** (2**6) > attn.LOOKUP_RECIPROCAL_TARGET >= worst ** (2**7)


def _run_cases(chunk_entries=None):
    g = torch.Generator().manual_seed(5)
    edge = lut.window_for(REACH, 1).reach
    values = torch.cat([torch.linspace(-edge + 0.01, edge - 0.01, 501, dtype=torch.float64),
                        torch.tensor([-edge + 0.01, edge - 0.01, 0.0, 0.3, -0.3, 1.0, -1.0], dtype=torch.float64)])
    rows = torch.randn(6, 37, generator=g, dtype=torch.float64) * 6
    rows[0] = 0.25  # a uniform row: every comparison a tie
    rows[1, 20] = 19.0  # one dominant score, far from the others
    rows[2] = torch.linspace(-19, 19, 37, dtype=torch.float64)
    out = run_parties(Task("party_tasks:lookup_cases", {
        "values": values.tolist(), "reach": REACH, "resolution_bits": 1, "rows": rows.tolist(),
        "bound": 20.0, "chunk_entries": chunk_entries}), timeout=180)
    # party 1 never talks to the dealer: its counters are the online cost alone
    return {**out[0], "max_cost": out[1]["max_cost"]}


@pytest.mark.parties
def test_tables_in_chunks_give_the_same_exact_relu():
    """The dealer's tables travel in chunks (bounding its memory): 4,096 entries a chunk (16 elements)
    gives the same exact relu away from zero as one message."""
    chunked = _run_cases(chunk_entries=4096)
    held, got = torch.tensor(chunked["held"]), torch.tensor(chunked["relu"])
    far = held.abs() >= 0.5
    assert far.sum() > 450 and (got[far] - held[far].clamp(min=0)).abs().max() < 1e-9
    assert (torch.tensor(chunked["max"]).squeeze(-1) <= torch.tensor(chunked["rows_held"]).max(-1).values + 1e-9).all()


@pytest.fixture(scope="module")
def cases():
    return _run_cases()


@pytest.mark.parties
def test_relu_is_exact_away_from_zero_and_within_a_step_next_to_it(cases):
    held = torch.tensor(cases["held"])
    got = torch.tensor(cases["relu"])
    exact = held.clamp(min=0)
    step = 0.5
    far = held.abs() >= step
    assert far.sum() > 450
    assert (got[far] - exact[far]).abs().max() < 1e-9  # b * X is exact: no truncation
    assert (got[~far] - exact[~far]).abs().max() <= step
    # at both edges of the window: no wrap-around
    assert got[held > 63].min() > 63 and got[held < -63].abs().max() < 1e-9


@pytest.mark.parties
def test_the_tree_max_is_an_entry_within_depth_steps_of_the_max_in_one_round_per_level(cases):
    rows = torch.tensor(cases["rows_held"])
    got = torch.tensor(cases["max"]).squeeze(-1)
    true = rows.max(-1).values
    depth = lut.tree_depth(rows.size(-1))
    assert depth == 6
    # an exact entry of its row, never above the max, at most depth steps below
    assert all(min(abs(got[i] - r).min().item() for r in [rows[i]]) < 1e-9 for i in range(len(rows)))
    assert (got <= true + 1e-9).all() and (true - got).max() <= depth * 0.5
    assert (true - got)[1:].abs().max() < 0.5  # rows without ties land on (or next to) the max
    rounds, nbytes = cases["max_cost"]
    comparisons = rows.size(0) * (rows.size(-1) - 1)  # a tree over n entries makes n - 1 comparisons
    assert (rounds, nbytes) == (depth, 16 * comparisons)


@pytest.mark.parties
def test_softmax_lookup_adds_no_error_to_cryptens_exp(cases):
    """The error against exact softmax is CrypTen's exp's (the limit (1 + x/256)^256, ~5% relative at
    x = -5), as softmax-stable's is: against softmax with that exp in float64, the lookups (the max,
    the reciprocal's start and its 4 Newton steps) and fixed point's truncations stay within 1.5e-3, as
    softmax-stable's do: the 2PC truncation's +-1 unit in 1 + x/256, raised to the 256th power, is a
    relative 256 * 2^-16 = 0.4% (measured 2e-4 to 7e-4 over runs), ties and a dominant score included."""
    rows = torch.tensor(cases["rows_held"], dtype=torch.float64)
    got, stable = torch.tensor(cases["softmax"]), torch.tensor(cases["stable"])
    exact = torch.softmax(rows, -1)
    limit = (1 + (rows - rows.max(-1, keepdim=True).values) / 256).clamp(min=0) ** 256
    cryptens_exp = limit / limit.sum(-1, keepdim=True)
    assert (got - cryptens_exp).abs().max() < 1.5e-3
    assert (stable - cryptens_exp).abs().max() < 1.5e-3
    assert 1e-3 < (got - exact).abs().max() < 5e-3  # exp's own error: seen, and the same as stable's
    assert (stable - exact).abs().max() < 5e-3


@pytest.fixture(scope="module")
def cores():
    shape = {"seq": 128, "heads": 4, "head_dim": 32, "features": 32}
    return {impl: run_one("attention", {**shape, "impl": impl}, LINKS) for impl in ("softmax-lookup", "softmax-stable")}


@pytest.mark.parties
def test_the_attention_core_costs_a_twelfth_of_the_rounds_and_an_84th_of_the_max_bytes(cores):
    """At L = 128 (4 heads): the max 7 rounds and 16 B per comparison (CrypTen's: 79 rounds, 1,350 B);
    the reciprocal a lookup and 4 Newton steps (9 rounds, CrypTen's 28); the error no larger."""
    new, old = cores["softmax-lookup"], cores["softmax-stable"]
    assert new["status"] == old["status"] == "ok"
    comparisons = 4 * 128 * 127
    s, t = new["scopes"], old["scopes"]
    assert (s["softmax.max"]["rounds"], s["softmax.max"]["bytes"]) == (7, 16 * comparisons)
    assert (t["softmax.max"]["rounds"], t["softmax.max"]["bytes"]) == (79, 87785472)
    assert s["softmax.reciprocal"]["rounds"] == 1 + 2 * 4  # a lookup, 4 Newton steps of 2 rounds
    assert s["softmax.exp"] == {**s["softmax.exp"], "rounds": t["softmax.exp"]["rounds"],
                                "bytes": t["softmax.exp"]["bytes"]}
    assert (new["rounds"], new["bytes"]) == (27, 12460032)
    # the dealer pays: two tables of 256 words per comparison
    assert s["softmax.max"]["offline_bytes"] >= 2 * 256 * 8 * comparisons
    assert new["max_abs_err"] < 2e-3 and new["max_abs_err"] <= 2 * old["max_abs_err"]


def test_the_encoder_refuses_softmax_lookup_without_score_bounds_and_calibrates_them():
    from secfwt.nn import encoder as enc

    model = enc.hf_model("tiny")
    calibration = enc.calibrate(model)
    assert set(calibration["score_max"]) == {enc.block_names(model.config, i)["q"] for i in range(2)}
    assert all(v > 0 for v in calibration["score_max"].values())
    without = {k: v for k, v in calibration.items() if k != "score_max"}
    with pytest.raises(ValueError, match="score bounds"):
        enc.MPCEncoder(model, enc.EncoderSpec(attention="softmax-lookup"), calibration=without)
