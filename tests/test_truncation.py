"""The exact truncation (truncation=exact, secfwt/mpc/truncation.py) against CrypTen's local one and
plaintext PyTorch on the same inputs.

100,000 products of magnitude ~10^6 make the local truncation fail ~15 times (|x| / 2^64 per
element at the product's scale 2^32); the exact one must fail never, stay within CrypTen's own
last-bit error, cost exactly one round and 16 B per element more, and open only masked values."""

import pytest
import torch

from secfwt.mpc import truncation as tr
from secfwt.mpc.parties import Task, run_parties

N, SCALE, DIVISORS = 100_000, 1000.0, [3, 7, 2**16]
LSB = 2.0**-16


def test_the_unsigned_floor_division_reads_int64_as_unsigned():
    v = torch.tensor([0, 1, 2**63 - 1, -(2**63), -1, -12345, 987654321], dtype=torch.long)
    for y in (1, 2, 3, 7, 2**16, 2**40 + 3):
        got = tr.unsigned_floor_div(v, y).tolist()
        want = [((int(u) % 2**64) // y) for u in v.tolist()]
        assert [g % 2**64 for g in got] == want
    q, m = tr._ring_quotient(torch.tensor([1, 2, 3, 2**16], dtype=torch.long))
    assert [int(a) % 2**64 for a in q] == [0, 2**63, 2**64 // 3, 2**48] and m.tolist() == [0, 0, 1, 0]


@pytest.fixture(scope="module")
def cases():
    out = run_parties(Task("party_tasks:truncation_cases", {"n": N, "scale": SCALE, "divisors": DIVISORS}),
                      timeout=300)
    return out  # party 1 never talks to the dealer: its counters are the online cost alone


def _f64(values):
    return torch.tensor(values, dtype=torch.float64)


@pytest.mark.parties
def test_the_exact_truncation_never_fails_where_the_local_one_does(cases):
    held = cases[0]
    exact = _f64(held["x"]) * _f64(held["y"])  # the product of the values the parties hold
    local_err = (_f64(held["local_product"]) - exact).abs()
    exact_err = (_f64(held["exact_product"]) - exact).abs()
    assert (local_err > 1e3).sum() >= 3  # CrypTen's local truncation: off by ~2^16 now and then
    assert exact_err.max() <= 2 * LSB  # never; within the local one's last-bit error everywhere else
    assert local_err[local_err < 1].max() <= 2 * LSB


@pytest.mark.parties
def test_divisions_by_any_public_integer_are_exact_to_the_last_bit(cases):
    held = cases[0]
    x = _f64(held["x"])
    for d, got in zip(DIVISORS, held["exact_divided"]):
        assert (_f64(got) - x / d).abs().max() <= 2 * LSB, d
    columns = torch.arange(1, 5, dtype=torch.float64).repeat(N // 4)
    assert (_f64(held["exact_by_column"]) - x / columns).abs().max() <= 2 * LSB


@pytest.mark.parties
def test_the_exact_truncation_costs_one_round_and_16_bytes_per_element_more(cases):
    assert tuple(cases[1]["local_cost"]) == (1, 32 * N)  # Beaver: x - a and y - b
    assert tuple(cases[1]["exact_cost"]) == (2, 48 * N)  # and x + r


@pytest.mark.parties
def test_the_exact_truncation_opens_only_masked_values(cases):
    audit = {(a["protocol"], a["verdict"]): a["elements"] for a in cases[0]["exact_audit"]}
    # two divisions by the scale and their product: three truncations of N elements each
    assert audit == {("Beaver (x - a, y - b)", "masked"): 2 * N, ("exact truncation (x + r)", "masked"): 3 * N}
    assert {a["protocol"] for a in cases[0]["local_audit"]} == {"Beaver (x - a, y - b)"}


def test_the_report_sets_an_exact_run_beside_the_same_run_truncated_locally():
    import copy
    import json
    from pathlib import Path

    from secfwt.report.accuracy import exact_truncation_lines, parity_table

    path = Path(__file__).resolve().parents[1] / "reports" / "records" / "parity.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines()]
    records = [r for r in records if r["params"].get("truncation") != "exact"]
    local = next(r for r in records if r["workload"] == "fot-mpc" and r["params"]["task"] == "mrpc")
    exact = copy.deepcopy(local)
    exact["params"]["truncation"] = "exact"
    exact["loss_max_abs_err"], exact["rounds"] = 0.004, 2 * local["rounds"]
    other = copy.deepcopy(exact)
    other["params"]["seq"] += 8  # another run: nothing to set it beside
    (line, blank) = exact_truncation_lines(parity_table(records + [exact, other]))
    assert "largest loss difference 0.004 against 1.1e+09" in line and "(2.00x, 1.00x)" in line and blank == ""
    assert exact_truncation_lines(parity_table([local, other])) == []


def test_the_committed_mrpc_run_with_the_exact_truncation_equals_its_plaintext_twin():
    """Issue 21's pair-task evidence: FoT on MRPC pairs in 2PC (all 6 MiniLM blocks, 3 generations of 4
    candidates, a data owner), every candidate's loss within the tolerance of the twin's, identical
    CMA-ES rankings, the same test predictions, and nothing opened or sent in the clear."""
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "reports" / "records" / "parity.jsonl"
    (run,) = [r for r in map(json.loads, path.read_text().splitlines())
              if r["workload"] == "fot-mpc" and r["params"]["task"] == "mrpc" and r["params"]["layers"] == -1
              and r["params"].get("truncation") == "exact"]
    assert run["status"] == "ok" and run["params"]["generations"] >= 3
    losses = [abs(a - b) for g in run["generations"] for a, b in zip(g["mpc_losses"], g["plain_losses"])]
    assert len(losses) == 12 and max(losses) == run["loss_max_abs_err"] <= run["tolerance"]
    assert run["rankings_equal"] and all(g["mpc_ranking"] == g["plain_ranking"] for g in run["generations"])
    assert run["test_agreement"] == 1.0 and run["test_rows"] == 32
    audit = [row for rows in run["reveal_audit"].values() for row in rows]
    assert {row["verdict"] for row in audit} <= {"masked", "masked bit (protocol)", "not received"}
    assert any(row["protocol"] == "exact truncation (x + r)" for row in audit)
    assert run["owner_audit"] and not any(not row["secret"] for row in run["owner_audit"])


@pytest.mark.parties
def test_under_tfp_party_0_makes_the_material_and_the_truncation_is_as_exact():
    """TFP (insecure against party 0, which draws r itself): the same protocol, the same online
    counts, no failure."""
    n = 20_000
    out = run_parties(Task("party_tasks:truncation_cases", {"n": n, "scale": SCALE, "divisors": [7]}), provider="tfp",
                      timeout=300)
    held = out[0]
    exact = _f64(held["x"]) * _f64(held["y"])
    assert (_f64(held["exact_product"]) - exact).abs().max() <= 2 * LSB
    assert (_f64(held["exact_divided"][0]) - _f64(held["x"]) / 7).abs().max() <= 2 * LSB
    assert tuple(out[1]["exact_cost"]) == (2, 48 * n)  # the material is shared without communication
