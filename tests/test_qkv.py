"""Fused query/key/value projections: the input is opened once instead of three times.

The saving is exact (2 rounds and 2 x 16 B per input element per block in the forward), the
outputs and gradients are the plaintext twin's, and nothing else moves.
"""

import pytest

from secfwt.links import PROFILES
from secfwt.runner import run_one

pytestmark = pytest.mark.parties

LINKS = [PROFILES["lan"]]


@pytest.fixture(scope="module")
def blocks():
    return {q: run_one("block", {"model": "small", "seq": 32, "batch": 2, "qkv": q}, LINKS)
            for q in ("separate", "fused")}


def test_fused_forward_saves_two_openings_of_the_input_exactly(blocks):
    sep, fused = blocks["separate"], blocks["fused"]
    hidden = 256  # "small"
    assert sep["rounds"] - fused["rounds"] == 2
    assert sep["bytes"] - fused["bytes"] == 2 * 16 * (2 * 32 * hidden)
    assert fused["status"] == "ok" and fused["max_abs_err"] <= 1e-2


def test_fused_gradients_and_update_match_plaintext():
    p = {"method": "sft", "model": "tiny", "seq": 16, "layers": 1, "optimizer": "sgd"}
    sep, fused = (run_one("step", {**p, "qkv": q}, LINKS) for q in ("separate", "fused"))
    assert fused["status"] == "ok"
    assert fused["grad_min_cosine"] >= 0.999
    assert fused["update_rel_err"] <= 0.05  # the update's scale, not only its direction
    assert fused["rounds"] < sep["rounds"] and fused["bytes"] < sep["bytes"]


def test_lora_keeps_its_adapters_on_fused_projections():
    rec = run_one("step", {"method": "lora", "model": "tiny", "seq": 16, "layers": 2, "qkv": "fused"}, LINKS)
    assert rec["status"] == "ok" and rec["grad_min_cosine"] >= 0.99
