"""The third GeLU: a piecewise polynomial whose segment is chosen by secure comparisons (as PUMA and
BumbleBee), added as one module (secfwt/nn/gelus/piecewise.py) and one registry entry.

Its function is checked against exact (erf) GeLU on and far beyond the range other approximations
keep to; its counts are exact; its gradient, block, step and FoT runs are checked against the
plaintext twin, as every other GeLU's are.
"""

import pytest
import torch

from secfwt.links import PROFILES
from secfwt.nn import encoder as enc
from secfwt.nn.gelus import implementation, plain_gelu
from secfwt.nn.gelus.piecewise import PIECEWISE_GELU, PiecewiseGelu
from secfwt.runner import run_one
from secfwt.variants import GELU

LINKS = [PROFILES["lan"]]
N = 4096


def test_it_is_registered_with_a_backward_and_reached_by_name():
    assert "piecewise" in GELU.names and not GELU.option("piecewise").paper
    assert GELU.option("piecewise").backward
    assert implementation("piecewise") is PIECEWISE_GELU


def test_the_polynomial_fits_exact_gelu_everywhere_not_only_on_a_range():
    """On |x| <= 4 the Chebyshev series (degree 8 in x^2) is within 1.3e-4 of erf GeLU; beyond, the
    segments x and 0 are within T (1 - Phi(T)) = 1.3e-4; at |x| = 1,000 it is exact."""
    x = torch.linspace(-1000.0, 1000.0, 2_000_001, dtype=torch.float64)
    err = (plain_gelu(x, "piecewise") - torch.nn.functional.gelu(x)).abs()
    assert 1e-4 < err.max() < 1.5e-4
    inner = torch.linspace(-4.0, 4.0, 80_001, dtype=torch.float64)
    assert (plain_gelu(inner, "piecewise") - torch.nn.functional.gelu(inner)).abs().max() < 1.5e-4
    # the default degree is not oversized by accident: degree 6 misses by ~2e-3
    coarse = PiecewiseGelu(degree=6)
    assert (coarse.plain(inner) - torch.nn.functional.gelu(inner)).abs().max() > 1e-3


def test_the_slope_series_is_the_derivative_of_the_value_series():
    """GeLU'(x) = 1/2 + x R(y) inside the bound (what the MPC backward multiplies by): against
    autograd of the plaintext function."""
    x = torch.linspace(-3.99, 3.99, 2001, dtype=torch.float64, requires_grad=True)
    PIECEWISE_GELU.plain(x).sum().backward()
    y = 2.0 * (x.detach() / PIECEWISE_GELU.bound) ** 2 - 1.0
    terms = PIECEWISE_GELU._chebyshev(y, torch.stack)
    slope = 0.5 + x.detach() * PIECEWISE_GELU._series(terms, PIECEWISE_GELU.slope_coefficients)
    assert torch.allclose(slope, x.grad, atol=1e-9)


@pytest.fixture(scope="module")
def forward_and_backward():
    return (run_one("gelu", {"impl": "piecewise", "size": N, "range": 39.0}, LINKS),
            run_one("gelu", {"impl": "piecewise", "size": N, "range": 8.0, "backward": True}, LINKS))


@pytest.mark.parties
def test_one_batched_comparison_then_five_product_rounds_exactly(forward_and_backward):
    """13 rounds: CrypTen's comparison of 2n values (8 rounds), x^2, three rounds of Chebyshev terms,
    the selection.  1,168 B per element online (the comparison's A2B and B2A most of it)."""
    forward, _ = forward_and_backward
    assert forward["status"] == "ok", forward.get("error")
    assert (forward["rounds"], forward["bytes"], forward["offline_bytes"]) == (13, 1168 * N, 1248504)
    assert forward["max_abs_err"] < 3e-4  # over |x| <= 39: no range limit, unlike the Fourier series


@pytest.mark.parties
def test_its_backward_is_one_beaver_product(forward_and_backward):
    """The forward keeps GeLU'(x) from its own comparison and terms (two products more, no round
    more); the backward alone is one product g * GeLU'(x)."""
    _, both = forward_and_backward
    back = both["scopes"]["backward"]
    assert (back["rounds"], back["bytes"]) == (1, 32 * N)
    assert (both["rounds"] - back["rounds"], both["bytes"] - back["bytes"]) == (13, 1248 * N)
    assert both["grad_max_abs_err"] < 2e-2  # the fit's slope at the segment ends (plain: 4.7e-3) times |g|


@pytest.mark.parties
def test_block_and_step_match_their_plaintext_twins_and_cost_no_more_on_pretrained_weights():
    """Pretrained MiniLM's block matches the twin; its counts equal those of random weights of the
    same shape (no data-dependent clamp); a FoT generation runs with it."""
    config = str(enc.minilm_path() / "config.json")
    pretrained = run_one("block", {"model": "minilm", "seq": 16, "gelu": "piecewise"}, LINKS)
    random = run_one("block", {"model": config, "seq": 16, "gelu": "piecewise"}, LINKS)
    assert pretrained["status"] == "ok" and pretrained["max_abs_err"] <= 5e-2, pretrained.get("error")
    counts = ("rounds", "bytes", "offline_rounds", "offline_bytes")
    assert {c: pretrained[c] for c in counts} == {c: random[c] for c in counts}
    fot = run_one("step", {"model": "minilm", "method": "fot", "seq": 16, "layers": 1, "population": 2,
                           "intrinsic_dim": 8, "gelu": "piecewise"}, LINKS)
    assert fot["status"] == "ok", fot.get("error")


@pytest.mark.parties
def test_sft_gradients_through_it_match_pytorch_autograd():
    rec = run_one("step", {"model": "tiny", "seq": 16, "batch": 2, "method": "sft", "optimizer": "adam",
                           "gelu": "piecewise"}, LINKS)
    assert rec["status"] == "ok", rec.get("error")
    assert rec["max_abs_err"] < 5e-3
    assert rec["grad_min_cosine"] >= 0.99 and rec["grad_max_rel_err"] < 5e-2
