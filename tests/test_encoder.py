"""The MPC encoder against Hugging Face on the same weights and inputs; CrypTen pitfalls pinned."""

import pytest
import torch

from secfwt.data import load
from secfwt.mpc.parties import Task, run_parties
from secfwt.nn import encoder as E

#: Documented parity tolerance: label logits within 3e-2 absolute, hidden states within 2%
#: relative (fixed point with 16 fractional bits, CrypTen's approximations, tanh GeLU).
LOGITS_TOL, HIDDEN_REL_TOL = 3e-2, 2e-2


@pytest.fixture(scope="module")
def pitfalls():
    return run_parties(Task("party_tasks:crypten_pitfalls", {}), timeout=300)[0]


@pytest.mark.parties
def test_slicing_drops_gradients_narrow_keeps_them(pitfalls):
    assert pitfalls["slice_keeps_grad"] is False  # CrypTen 0.4.1: t[:, :k] silently loses requires_grad
    assert pitfalls["narrow_keeps_grad"] is True  # the encoder uses narrow


@pytest.mark.parties
def test_mean_loss_over_many_outputs_underflows_and_loss_scaling_fixes_it(pitfalls):
    assert pitfalls["mean_grad_max"] == 0.0
    assert pitfalls["scaled_mean_grad"] == pytest.approx(1e-5, rel=0.1)


@pytest.mark.parties
def test_erf_is_wrong_and_our_gelu_is_right_on_a_wide_range(pitfalls):
    assert abs(pitfalls["erf_2"] - 0.9953) > 0.1
    assert pitfalls["gelu_err"] < 2e-3  # tanh form vs exact erf GeLU, x in [-20, 20]


@pytest.mark.parties
def test_get_plain_text_misdecodes_reveal_does_not(pitfalls):
    assert pitfalls["reveal_max_err"] < 1e-4
    assert pitfalls["plain_text_max_err"] >= pitfalls["reveal_max_err"]


@pytest.mark.parties
def test_layer_norm_needs_its_public_prescale_and_inv_sqrt_has_autograd(pitfalls):
    assert pitfalls["ln_unscaled_err"] > 0.05
    assert pitfalls["ln_scaled_err"] < 5e-3
    assert pitfalls["inv_sqrt_grad_err"] < 5e-3


@pytest.mark.parties
def test_two_party_truncation_fails_at_the_rate_of_the_products_magnitude(pitfalls):
    """CrypTen's 2PC truncation is local: a product v is off by +-2^32 with probability |v| / 2^32.
    2^22 products of 2^16 expect 64 failures, of 2^20 1,024 (Poisson: 16x more for 16x the
    magnitude).  This is why a deep run's candidate can, rarely, be off by ~1e9: the expected
    number per forward is the sum of |v| / 2^32 over every product it truncates."""
    small, large = pitfalls["wraps_at_2^16"], pitfalls["wraps_at_2^20"]
    assert 32 <= small <= 128, small  # mean 64: outside is > 4 sigma
    assert 870 <= large <= 1180, large  # mean 1,024 (sd 32)
    assert set(pitfalls["wrap_size_at_2^16"]) | set(pitfalls["wrap_size_at_2^20"]) <= {-1, 1}  # +-2^32 each
    # the diagnostic that predicts a forward's failures from the values it truncates (secfwt.mpc.truncation)
    assert pitfalls["budget_of_2^22_products_of_2^16"] == {"": 64.0}
    assert pitfalls["elements_truncated"] == {"": 1 << 22}


def test_tanh_gelu_is_within_1e_3_of_erf_gelu():
    x = torch.linspace(-10, 10, 20001, dtype=torch.float64)
    assert (E.plain_gelu(x) - torch.nn.functional.gelu(x)).abs().max() < 1e-3


def test_plaintext_twin_equals_hugging_face():
    m = E.hf_model("tiny", seed=0)  # tanh-GeLU config: the twin agrees to 1e-5
    b = E.synthetic_batch(m.config, 2, 12, 0, seed=1)
    with torch.no_grad():
        want = m(input_ids=b.input_ids).logits[torch.arange(2), b.mask_pos][:, b.label_token_ids]
        got = E.plain_forward(m, b)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)


@pytest.mark.parties
def test_random_weights_forward_parity():
    (r,) = run_parties(Task("party_tasks:encoder_parity", {"model": "small", "sentences": [], "seq": 24}),
                       timeout=300)[0]
    assert r["logits_err"] < LOGITS_TOL and r["hidden_rel_err"] < HIDDEN_REL_TOL, r


@pytest.mark.parties
def test_pretrained_minilm_forward_parity_on_real_sentences():
    sentences = load("sst2", "test")[:3]
    results = run_parties(Task("party_tasks:encoder_parity", {"model": "minilm", "sentences": sentences}),
                          timeout=600)[0]
    assert len(results) == 3
    for r in results:
        assert r["logits_err"] < LOGITS_TOL and r["hidden_rel_err"] < HIDDEN_REL_TOL, r


def test_calibration_centres_each_layers_query_and_key_mean_squares_for_rfa():
    """The model owner's public q/k factor per layer, from the weights on a public synthetic batch: the
    geometric mean of the smallest and largest row mean square of q and k, times its square, is
    inv_sqrt's centre.  The tiny model's rows (0.014 to 0.042) sit below inv_sqrt's accurate range."""
    m = E.hf_model("tiny", seed=0)
    cal = E.calibrate(m)
    stats = {}
    batch = E.synthetic_batch(m.config, 2, 32, 0, seed=12345)
    with torch.no_grad():
        E.plain_forward(m, batch, qk_stats=stats)
    assert set(cal["qk_scales"]) == set(stats) and len(stats) == m.config.num_hidden_layers
    for name, (lo, hi) in stats.items():
        assert 0.005 < lo < hi < 0.1  # without the factor: below [0.1, 100]
        assert cal["qk_scales"][name] ** 2 * (lo * hi) ** 0.5 == pytest.approx(E.INV_SQRT_CENTRE, rel=1e-9)


def test_unknown_model_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown model"):
        E.model_config("gpt-17")
