"""The meter agrees exactly with CrypTen's own counters; counts are pinned exactly."""

import pytest

from secfwt.links import PROFILES
from secfwt.mpc.parties import Task, run_parties
from secfwt.runner import fold_parties, run_one

pytestmark = pytest.mark.parties

LINKS = list(PROFILES.values())

# (op, size) -> (online rounds, online bytes); deterministic for CrypTen 0.4.1, 2 parties.
# mul/matmul: one Beaver opening of two 16x16 masked operands: 2 * 256 elements * 8 bytes
# sent by each party = 8192 bytes in total, in 1 round.
EXPECTED = {("mul", 16): (1, 8192), ("matmul", 16): (1, 8192), ("softmax", 16): (95, 431872)}


@pytest.fixture(scope="module", params=sorted(EXPECTED))
def op_record(request):
    op, size = request.param
    return op, size, run_one("op", {"op": op, "size": size}, LINKS, provider="ttp")


def test_counts_are_exact(op_record):
    op, size, rec = op_record
    assert rec["status"] == "ok", rec.get("error")
    assert (rec["rounds"], rec["bytes"]) == EXPECTED[(op, size)]


def test_meter_matches_crypten_counters_per_party(op_record):
    _, _, rec = op_record
    for view in rec["per_party"].values():
        total, crypten_count = view["total"], view["crypten_counters"]
        assert total["rounds"] + total["offline_rounds"] == crypten_count["rounds"]
        assert total["bytes"] + total["offline_bytes"] == crypten_count["bytes"]
    # two parties: each logs what it sends plus what it receives, so one party's online
    # count equals the total sent by both, and both parties log the same
    assert rec["per_party"]["0"]["total"]["bytes"] == rec["per_party"]["1"]["total"]["bytes"] == rec["bytes"]


def test_ttp_dealer_traffic_is_offline_and_only_party0_talks_to_it(op_record):
    _, _, rec = op_record
    assert rec["offline_bytes"] > 0 and rec["offline_rounds"] > 0
    assert rec["per_party"]["1"]["total"]["offline_bytes"] == 0
    assert rec["max_abs_err"] < 1e-2


def test_tfp_has_no_dealer_traffic_and_the_same_online_counts():
    rec = run_one("op", {"op": "mul", "size": 16}, LINKS, provider="tfp")
    assert rec["status"] == "ok"
    assert (rec["rounds"], rec["bytes"], rec["offline_bytes"]) == (1, 8192, 0)
    assert "INSECURE" in rec["security"]


def test_scopes_are_nested_and_inclusive():
    rec = run_one("attention", {"impl": "softmax-stock", "seq": 16, "heads": 1, "head_dim": 8}, LINKS)
    scopes = rec["scopes"]
    parts = ["scores", "softmax", "context"]
    assert set(parts) <= set(scopes)
    for key in ("rounds", "bytes", "offline_bytes"):
        assert sum(scopes[p][key] for p in parts) == scopes[""][key]
    assert scopes["softmax"]["bytes"] > scopes["scores"]["bytes"]


def test_duplex_bytes_count_the_busier_direction():
    """A Beaver opening sends as much each way (a full-duplex link carries half of the logged
    bytes per direction); a reveal to one party goes one way (all of it on one direction)."""
    views = run_parties(Task("party_tasks:duplex_cases", {}), timeout=300)
    scopes = fold_parties([{"scopes": v} for v in views])
    # Beaver mul: eps and delta, 2 x 64 elements of 8 bytes sent by each party
    assert (scopes["mul"]["bytes"], scopes["mul"]["duplex_bytes"]) == (2048, 1024)
    # reveal(dst=0): party 1 sends its 64 shares to party 0, nothing comes back
    assert (scopes["to0"]["bytes"], scopes["to0"]["duplex_bytes"]) == (512, 512)
    assert scopes[""]["duplex_bytes"] == 1536


def test_full_duplex_records_carry_the_busier_direction(op_record):
    """A record's full-duplex estimate uses duplex_bytes: half the transfer of the half-duplex one
    for an op made of symmetric openings."""
    _, _, rec = op_record
    assert rec["duplex_bytes"] * 2 == rec["bytes"]
