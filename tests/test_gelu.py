"""GeLU variants: the one-round Fourier series against CrypTen-style tanh, and exact (erf) GeLU.

Counts are exact; errors are checked on the documented range, and the behaviour beyond it is
pinned down, so a change of range, coefficients or protocol shows here.
"""

import math

import pytest
import torch

from secfwt.links import PROFILES
from secfwt.nn import encoder as enc
from secfwt.nn.gelus import plain_gelu
from secfwt.nn.gelus.fourier import FOURIER_GELU, FourierGelu
from secfwt.runner import run_one

LINKS = [PROFILES["lan"]]
N = 16384


@pytest.fixture(scope="module")
def fourier():
    return run_one("gelu", {"impl": "fourier", "size": N, "range": FOURIER_GELU.range}, LINKS)


@pytest.mark.parties
def test_fourier_is_two_rounds_48_bytes_per_element_within_1e3_on_its_range(fourier):
    assert fourier["status"] == "ok"
    assert fourier["rounds"] == 2  # the trig opening, then one Beaver product
    assert fourier["bytes"] == 48 * N  # 16 (delta, both parties) + 32 (Beaver: two openings)
    assert fourier["max_abs_err"] <= 1e-3
    # the dealer's material: [cos kt, sin kt] for 32 harmonics (party 0's share) and a Beaver triple
    assert fourier["offline_bytes"] >= 2 * FOURIER_GELU.harmonics * 8 * N


@pytest.mark.parties
def test_tanh_form_measured_beside_it(fourier):
    tanh = run_one("gelu", {"impl": "tanh", "size": N, "range": 8.0}, LINKS)
    clamped = run_one("gelu", {"impl": "tanh", "clamp": True, "size": N, "range": FOURIER_GELU.range}, LINKS)
    assert (tanh["rounds"], tanh["bytes"]) == (26, 832 * N)
    assert (clamped["rounds"], clamped["bytes"]) == (35, 1760 * N)
    assert clamped["bytes"] / fourier["bytes"] == pytest.approx(36.7, abs=0.1)
    # tanh's form alone differs from erf GeLU by up to ~1e-3: fourier is closer to the exact function
    assert clamped["max_abs_err"] > fourier["max_abs_err"]


def test_series_fits_exact_gelu_on_the_range_and_bends_back_beyond_it():
    x = torch.linspace(-FOURIER_GELU.range, FOURIER_GELU.range, 200_001, dtype=torch.float64)
    assert (plain_gelu(x, "fourier") - torch.nn.functional.gelu(x)).abs().max() <= 2e-5
    # beyond the range the mirror image of Phi bends back: at 2L the output is x/2, at 3L zero
    edge = torch.tensor([2.0, 3.0], dtype=torch.float64) * FOURIER_GELU.half_period
    assert plain_gelu(edge, "fourier").tolist() == pytest.approx([edge[0].item() / 2, 0.0], abs=1e-3)


def test_fewer_harmonics_are_visibly_worse():
    """The default is not oversized by accident: 16 harmonics at L = 22 miss by ~1e-2."""
    x = torch.linspace(-39.0, 39.0, 20_001, dtype=torch.float64)
    coarse = FourierGelu(half_period=22.0, harmonics=16)
    assert (coarse.plain(x) - torch.nn.functional.gelu(x)).abs().max() > 5e-3


def test_pretrained_minilm_fits_the_range_and_a_wider_model_is_refused():
    model = enc.hf_model("minilm", layers=1)
    cal = enc.calibrate(model)
    peak = max(cal["gelu_max"].values())
    assert 20 < peak <= FOURIER_GELU.range  # MiniLM's block-0 FFN inputs, with margin, fit
    too_wide = {**cal, "gelu_max": {k: FOURIER_GELU.range + 1 for k in cal["gelu_max"]}}
    with pytest.raises(ValueError, match="beyond the fourier GeLU's range"):
        enc.MPCEncoder(model, enc.EncoderSpec(gelu="fourier"), calibration=too_wide)


def _counts(rec):
    return {k: rec[k] for k in ("rounds", "bytes", "offline_rounds", "offline_bytes")}


@pytest.mark.parametrize("workload,params", [
    ("block", {"seq": 16}),
    ("step", {"method": "fot", "seq": 16, "layers": 1, "population": 2, "intrinsic_dim": 8}),
])
@pytest.mark.parties
def test_fourier_counts_do_not_depend_on_the_weights(workload, params):
    """Pretrained MiniLM and seeded-random weights of the same shape cost exactly the same with the
    fourier GeLU; with tanh they do not (pretrained inputs switch its clamp on, +928 B per element)."""
    config = str(enc.minilm_path() / "config.json")
    got = {}
    for gelu in ("fourier", "tanh"):
        for model in ("minilm", config):
            got[gelu, model] = run_one(workload, {**params, "model": model, "gelu": gelu}, LINKS)
            assert got[gelu, model]["status"] in ("ok", "inaccurate"), got[gelu, model].get("error")
    assert _counts(got["fourier", "minilm"]) == _counts(got["fourier", config])
    pretrained, random = got["tanh", "minilm"], got["tanh", config]
    elements = params["seq"] * 1536 * (1 if workload == "block" else params["population"])  # FFN inputs
    assert pretrained["bytes"] - random["bytes"] == (1760 - 832) * elements
    assert got["fourier", "minilm"]["bytes"] < random["bytes"] < pretrained["bytes"]


@pytest.mark.parties
def test_fourier_block_matches_its_plaintext_twin_on_pretrained_weights():
    rec = run_one("block", {"model": "minilm", "seq": 24, "gelu": "fourier"}, LINKS)
    assert rec["status"] == "ok" and rec["max_abs_err"] <= 5e-2
    assert math.isfinite(rec["max_abs_err"])


@pytest.mark.parties
def test_the_fourier_backward_is_one_beaver_product_and_no_second_trig_opening():
    """GeLU'(x) = 1/2 + S(x) + x S'(x): S' comes from the forward's own opening and the dealt
    cos(k t), sin(k t), and x S'(x) rides in the forward's product round.  The backward alone is then
    exactly one Beaver product g * GeLU'(x), as CrypTen's own multiplication of n elements costs."""
    n = 1024
    forward = run_one("gelu", {"impl": "fourier", "size": n, "range": 8.0}, LINKS)
    both = run_one("gelu", {"impl": "fourier", "size": n, "range": 8.0, "backward": True}, LINKS)
    mul = run_one("op", {"op": "mul", "size": 32}, LINKS)  # 32 x 32 = n elements
    back = both["scopes"]["backward"]
    counters = ("rounds", "bytes", "offline_rounds")
    assert {c: back[c] for c in counters} == {c: mul[c] for c in counters}
    # the dealer's triple: the request names a 1-D size, the op's a 2-D one (8 bytes more)
    assert back["offline_bytes"] == mul["offline_bytes"] - 8
    assert (back["rounds"], back["bytes"]) == (1, 32 * n)
    # the forward: still the one trig opening and one product round, now of 2n elements (x S, x S')
    assert both["rounds"] - back["rounds"] == forward["rounds"] == 2
    assert both["bytes"] - back["bytes"] == forward["bytes"] + 32 * n == 80 * n
    # the dealer deals the trig table once: the forward with the slope adds n more triples' worth
    # (8 bytes each, party 1's share of c), nothing like a second table (2 x 32 harmonics x 8 bytes)
    assert both["offline_bytes"] - back["offline_bytes"] - forward["offline_bytes"] == 8 * n + 8
    # against g * GeLU'(x) of the exact GeLU, g ~ N(0, 1): the series' slope, 16-bit fixed point,
    # x S'(x) with |x| <= 8
    assert both["grad_max_abs_err"] < 3e-3
    assert both["max_abs_err"] == pytest.approx(forward["max_abs_err"], abs=1e-4)


@pytest.mark.parties
def test_tanh_backward_measured_beside_it():
    n = 1024
    tanh = run_one("gelu", {"impl": "tanh", "size": n, "range": 8.0, "backward": True}, LINKS)
    assert (tanh["scopes"]["backward"]["rounds"], tanh["scopes"]["backward"]["bytes"]) == (10, 304 * n)
    assert tanh["grad_max_abs_err"] < 5e-2


@pytest.mark.slow
@pytest.mark.parametrize("task", ["sst2", "agnews"])
def test_minilm_predictions_with_fourier_gelu_agree_with_exact_gelu(task):
    """Label logits of the sentence head on 200 real test sentences: the fourier twin (what MPC
    computes, see test_tuning_parity) picks the exact-GeLU model's label on 99% or more."""
    from secfwt import data
    from secfwt.nn.gelus import EXACT_GELU

    model, tokenizer = enc.hf_model("minilm").float(), enc.minilm_tokenizer()
    spec = data.get_task(task)
    rows = data.load(task, "test")[:200]
    batch = enc.text_batch(tokenizer, [r["text"] for r in rows], [r["label"] for r in rows], spec.max_len)
    labels = enc.label_embeddings(model, tokenizer, spec.label_descriptions, gelu=EXACT_GELU)
    preds = {}
    with torch.no_grad():
        for gelu in ("fourier", EXACT_GELU):
            preds[gelu] = torch.cat([enc.plain_forward(model, batch.rows(s, 50), head="sentence", gelu=gelu,
                                                       label_embeddings=labels).argmax(-1)
                                     for s in range(0, batch.size, 50)])
    agreement = (preds["fourier"] == preds[EXACT_GELU]).double().mean().item()
    assert agreement >= 0.99, agreement


def test_float32_twin_is_the_series_within_float32_rounding_also_beyond_the_range():
    x = torch.linspace(-60.0, 60.0, 200_001, dtype=torch.float64)
    fast = plain_gelu(x.float(), "fourier").double()
    assert (fast - plain_gelu(x, "fourier")).abs().max() <= 2e-4  # float32 rounding of values up to 60
    beyond = x.abs() > FOURIER_GELU.range
    assert (fast[beyond] - torch.nn.functional.gelu(x[beyond])).abs().max() > 1.0  # not silently exact there
