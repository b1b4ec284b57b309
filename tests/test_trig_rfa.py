"""SecFwT's one-round cosine/sine and the RFA built on it, against plaintext PyTorch.

Counts are exact; errors are bounded as secfwt/mpc/cosine.py documents; property-based
tests (hypothesis) draw shapes and values, each example run as one real 2PC session.
"""

import math

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from secfwt.links import PROFILES
from secfwt.mpc.parties import Task, run_parties
from secfwt.runner import run_one

pytestmark = pytest.mark.parties

LINKS = [PROFILES["lan"]]
N = 4096


@pytest.fixture(scope="module")
def trig():
    return {(impl, w): run_one("trig", {"impl": impl, "w": w, "size": N, "range": 10.0}, LINKS)
            for impl in ("onepass", "builtin") for w in (1.0, 2 * math.pi)}


@pytest.mark.parametrize("w", [1.0, 2 * math.pi])
def test_onepass_is_one_round_16_bytes_per_element_and_accurate(trig, w):
    rec = trig[("onepass", w)]
    assert rec["rounds"] == 1
    assert rec["bytes"] == 16 * N
    assert rec["max_abs_err"] <= 1e-3
    assert rec["status"] == "ok"


def test_crypten_builtin_measured_beside_it(trig):
    builtin, onepass = trig[("builtin", 1.0)], trig[("onepass", 1.0)]
    assert builtin["rounds"] == 28 and builtin["bytes"] == 2424832
    assert builtin["bytes"] / onepass["bytes"] == pytest.approx(37, abs=0.1)
    assert builtin["max_abs_err"] > onepass["max_abs_err"]


def test_dealer_material_is_offline_under_ttp_and_absent_under_tfp(trig):
    ttp = trig[("onepass", 1.0)]
    assert ttp["offline_rounds"] == 3 and ttp["offline_bytes"] >= 2 * 8 * N  # [cos t, sin t] for party 0
    tfp = run_one("trig", {"impl": "onepass", "size": N}, LINKS, provider="tfp")
    assert (tfp["rounds"], tfp["bytes"], tfp["offline_bytes"]) == (1, 16 * N, 0)
    assert tfp["max_abs_err"] <= 1e-3


# every example is a real 2PC session of several seconds: no shrinking, the failing case is printed
PROPERTY = dict(deadline=None, derandomize=True, suppress_health_check=list(HealthCheck),
                phases=[Phase.explicit, Phase.generate])


@settings(max_examples=3, **PROPERTY)
@given(st.lists(st.fixed_dictionaries({
    "values": st.lists(st.floats(-1000, 1000, allow_nan=False, width=32), min_size=1, max_size=64),
    "w": st.one_of(st.sampled_from([1.0, 2 * math.pi, -1.0]), st.floats(-50, 50, allow_nan=False)),
}), min_size=12, max_size=12))
def test_property_trig_within_documented_bound(cases):
    errors = run_parties(Task("party_tasks:trig_cases", {"cases": cases}), timeout=120)[0]
    for case, e in zip(cases, errors):
        # the protocol's own error on the value the parties hold, and the bound including encoding
        assert e["err_held"] <= 1e-4, (case, e)
        assert e["err"] <= 1e-4 + abs(case["w"]) * 1.53e-5, (case, e)


@settings(max_examples=2, **PROPERTY)
@given(st.lists(st.fixed_dictionaries({
    "batch": st.integers(1, 2), "heads": st.integers(1, 3), "seq": st.integers(1, 48),
    "head_dim": st.integers(2, 32), "features": st.integers(16, 64), "seed": st.integers(0, 10_000),
}), min_size=6, max_size=6))
def test_property_rfa_onepass_matches_its_twin(cases):
    results = run_parties(Task("party_tasks:rfa_cases", {"cases": cases}), timeout=300)[0]
    for case, r in zip(cases, results):
        assert r["err"] <= 1e-2, (case, r)


@pytest.fixture(scope="module")
def attention_backward():
    shape = {"seq": 16, "heads": 2, "head_dim": 16, "features": 16, "backward": True}
    return {impl: run_one("attention", {**shape, "impl": impl}, LINKS)
            for impl in ("softmax-stable", "rfa-onepass", "rfa-builtin")}


@pytest.mark.parametrize("impl", ["softmax-stable", "rfa-onepass", "rfa-builtin"])
def test_attention_backward_matches_autograd_of_its_twin(attention_backward, impl):
    """Through the l2 normalisation, the features, the aggregation and the normaliser's reciprocal
    (RFA) or the max, exp and reciprocal (softmax), the gradients of q, k and v match torch autograd of
    the plaintext twin in direction and magnitude."""
    rec = attention_backward[impl]
    assert rec["status"] == "ok", rec.get("error")
    assert rec["grad_min_cosine"] > 0.9999
    # CrypTen's cossin (10 squarings of exp(ix)) is the least accurate forward: 0.016 measured
    assert rec["grad_max_rel_err"] < (5e-2 if impl == "rfa-builtin" else 1e-2)
    assert rec["scopes"]["backward"]["rounds"] > 0


def test_rfa_backward_pays_no_trig_of_either_protocol(attention_backward):
    """d sin = cos and d cos = -sin are the forward's own outputs (secfwt.mpc.cosine.sin_cos): the
    backward of RFA costs the same whichever protocol computed the features (28 rounds for CrypTen's
    cossin, 1 for the one-pass cosine)."""
    onepass, builtin = attention_backward["rfa-onepass"], attention_backward["rfa-builtin"]
    assert (builtin["scopes"]["features"]["rounds"], onepass["scopes"]["features"]["rounds"]) == (28, 1)
    assert [{k: r["scopes"]["backward"][k] for k in ("rounds", "bytes", "offline_bytes")}
            for r in (onepass, builtin)] == [{k: onepass["scopes"]["backward"][k] for k in ("rounds", "bytes", "offline_bytes")}] * 2


def test_rfa_features_backward_is_one_product_round():
    """The features' backward alone is the two products g_sin cos x - g_cos sin x in one round."""
    back = run_parties(Task("party_tasks:rfa_features_backward", {}), timeout=300)[0]
    assert back["protocols"] == ["Beaver (x - a, y - b)"]
    assert (back["rounds"], back["bytes"]) == (1, 32 * 2 * back["elements"])  # one product round of 2n elements
