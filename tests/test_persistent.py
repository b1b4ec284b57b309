"""Persistent Beaver masks of fixed operands (secfwt.mpc.persistent) and the run-level costs of
forward-only tuning: W - B opened once per run, fresh masks for everything opened per product,
and exact counts - per candidate, the fresh cost minus the weight and table openings, to the byte."""

import pytest

from secfwt.links import PROFILES
from secfwt.mpc.parties import Task, run_parties
from secfwt.nn.encoder import MODEL_SIZES
from secfwt.runner import run_one

pytestmark = pytest.mark.parties

LINKS = [PROFILES["lan"]]
#: bytes CrypTen counts per opened ring element in 2PC: 8 sent by each party
OPENED = 16


@pytest.mark.parametrize("provider", ["ttp", "tfp"])
def test_fixed_operand_products_match_plaintext_and_open_w_minus_b_once(provider):
    views = run_parties(Task("party_tasks:persistent_products", {}), provider=provider, timeout=300)
    for view in views:
        assert max(view["errors"]) < 2e-3, view["errors"]  # x1 W, x2 W and x3 W^T against float64
        s = view["summary"]
        # once: W - B, 16 x 8 elements, one round; each product: x - A only (3 x 5 x 16, then 5 x 8)
        assert (s["once"]["rounds"], s["once"]["bytes"]) == (1, 2 * 128 * 8)  # one party's log: sent + received
        assert (s["first"]["rounds"], s["first"]["bytes"]) == (1, 2 * 240 * 8)
        assert (s["second"]["rounds"], s["second"]["bytes"]) == (1, 2 * 240 * 8)
        assert (s["transposed"]["rounds"], s["transposed"]["bytes"]) == (1, 2 * 40 * 8)
        assert view["opened_shapes"] == [[[16, 8]], [3, 5, 16], [3, 5, 16], [5, 8]]
        by = {(r["scope"], r["protocol"]): r for r in view["audit"]}
        assert by[("once", "fixed-operand mask (W - B), once per run")]["openings"] == 1
        for name in ("first", "second", "transposed"):
            row = by[(name, "Beaver, fixed operand (x - a)")]
            assert (row["openings"], row["verdict"]) == (1, "masked")
        # a fresh A per product: two openings of close inputs differ by a uniform ring element, not
        # by x1 - x2 = -1/4 (which a reused A would reveal)
        assert view["small_difference_fraction"] < 0.01


def _weight_elements(size: str, layers: int, classes: int = 2) -> int:
    """Every fixed operand of the encoder's forward, counted from the named size's shape: the word
    table, q, k, v, o, ffn1, ffn2 per block, and the masked-LM head's dense layer and label rows."""
    m = MODEL_SIZES[size]
    h, i = m["hidden_size"], m["intermediate_size"]
    return m["vocab_size"] * h + layers * (4 * h * h + 2 * h * i) + h * h + h * classes


@pytest.fixture(scope="module")
def fot_costs():
    base = {"method": "fot", "model": "tiny", "seq": 32, "batch": 2, "population": 3, "prompt_tokens": 4,
            "fot_mode": "sequential"}
    return {(masks, inputs): run_one("step", {**base, "weight_masks": masks, "fixed_inputs": inputs}, LINKS)
            for masks, inputs in (("fresh", "recomputed"), ("persistent", "recomputed"), ("persistent", "cached"))}


def test_per_candidate_cost_is_the_fresh_cost_minus_the_weight_openings(fot_costs):
    fresh = fot_costs["fresh", "recomputed"]
    persistent = fot_costs["persistent", "recomputed"]
    for rec in fot_costs.values():
        assert rec["status"] == "ok", rec.get("error")
        assert rec["max_abs_err"] < 5e-3  # the same logits as the plaintext twin either way
    weights = _weight_elements("tiny", layers=2)
    assert persistent["one_time_cached"] == {"weight_elements": weights, "weight_tensors": 1 + 2 * 6 + 2}
    # sequential: each of the 3 candidates' forwards opened every W - B; now the run opens them once
    assert fresh["bytes"] - persistent["bytes"] == 3 * OPENED * weights
    assert persistent["one_time"]["bytes"] == OPENED * weights
    assert persistent["one_time"]["rounds"] == 1
    assert persistent["rounds"] == fresh["rounds"]  # x - A still needs its round per product
    assert persistent["offline_bytes"] == fresh["offline_bytes"]  # the dealer still deals C = A B per product
    assert "one_time" not in fresh


def test_cached_inputs_take_the_lookup_out_of_every_candidate(fot_costs):
    persistent = fot_costs["persistent", "recomputed"]
    cached = fot_costs["persistent", "cached"]
    rows, tokens = 2, 32 - 4  # the batch's rows, and its positions that hold words (not prompt slots)
    one_hot = rows * tokens * MODEL_SIZES["tiny"]["vocab_size"]
    assert persistent["bytes"] - cached["bytes"] == 3 * OPENED * one_hot  # x - A of each candidate's lookup
    assert persistent["rounds"] - cached["rounds"] == 3  # one lookup round per candidate
    assert cached["one_time"]["bytes"] - persistent["one_time"]["bytes"] == OPENED * one_hot
    assert cached["one_time"]["rounds"] == 2  # W - B, then the lookup
    assert cached["one_time_cached"]["token_embeddings_rows"] == rows


def test_lora_pays_its_frozen_weights_masks_once_forward_and_backward():
    """LoRA's base weights are frozen: the forward x W and the backward g W^T both reuse W - B, opened
    once per run; everything else (the adapters, W's discarded gradient as CrypTen computes it) is
    unchanged.  Gradients and the update still match plaintext autograd."""
    base = {"method": "lora", "model": "tiny", "seq": 16, "batch": 2, "optimizer": "sgd"}
    fresh = run_one("step", base, LINKS)
    persistent = run_one("step", {**base, "weight_masks": "persistent"}, LINKS)
    for rec in (fresh, persistent):
        assert rec["status"] == "ok", rec.get("error")
        assert rec["max_abs_err"] < 5e-3
        assert rec["grad_max_rel_err"] < 5e-2  # magnitudes against autograd (measured: 0.026 fresh, 0.029)
    m = MODEL_SIZES["tiny"]
    h, i = m["hidden_size"], m["intermediate_size"]
    weights = _weight_elements("tiny", layers=2)
    # g W^T runs where W's input needs a gradient: block 0's output and FFN projections (its q, k, v
    # read the embeddings, which need none), all six of block 1, the head's dense layer and label rows
    backward = (h * h + 2 * h * i) + (4 * h * h + 2 * h * i) + h * h + h * 2
    assert fresh["bytes"] - persistent["bytes"] == OPENED * (weights + backward)
    assert persistent["one_time"]["bytes"] == OPENED * weights
    assert persistent["rounds"] == fresh["rounds"]
    assert persistent["one_time_cached"]["weight_elements"] == weights


def test_persistent_masks_are_refused_where_weights_change():
    from secfwt.errors import InputError
    from secfwt.workloads import get

    with pytest.raises(InputError, match="SFT updates every weight"):
        get("step").resolve({"method": "sft", "weight_masks": "persistent"})
    with pytest.raises(InputError, match="deep prompt tuning computes every weight's gradient"):
        get("step").resolve({"method": "prompt", "prompt_depth": "deep", "weight_masks": "persistent"})
    with pytest.raises(InputError, match="fixed_inputs=cached applies to method=fot"):
        get("step").resolve({"method": "lora", "fixed_inputs": "cached"})
