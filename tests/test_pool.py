"""The warm pool (secfwt.mpc.pool): many points in one set of processes, each as independent as a
cold run."""

import json
from pathlib import Path

import pytest

from secfwt import baseline
from secfwt.links import PROFILES
from secfwt.mpc import pool
from secfwt.mpc.parties import PROTOCOL_SEED_ENV, PartyError, Task, run_parties
from secfwt.profiles import get_profile
from secfwt.runner import expand_grid, run_one

pytestmark = pytest.mark.parties

LINKS = [PROFILES["lan"]]
ROOT = Path(__file__).resolve().parent.parent


def _quick_mpc_points():
    """The first point of every MPC sweep of the quick profile (those with a data owner included):
    every workload and variant family the profile measures.  All 39 points are gated warm against
    the same baseline by `make bench` (CI runs it after the tests)."""
    from secfwt import workloads

    points = []
    for sweep in get_profile("quick")["sweeps"]:
        if not workloads.get(sweep.workload).plaintext:
            points.append((sweep.workload, expand_grid(sweep.workload, sweep.grid)[0]))
    return points


def test_every_quick_sweep_counts_warm_exactly_as_the_committed_cold_baseline():
    """The count gate must not move: a point of every MPC sweep of the quick profile, run warm in one
    pool, has the rounds and bytes (online and dealer) the committed baseline holds from cold runs."""
    points = _quick_mpc_points()
    with pool.warm():
        records = [run_one(w, p, LINKS) for w, p in points]
    assert all(r["status"] in ("ok", "inaccurate") for r in records), [r.get("error") for r in records]
    warm = baseline.counts(records)
    committed = baseline.load(ROOT / "benchmarks/baselines/quick.json")
    assert len(warm) == len(points) >= 12 and {w for w, _ in points} >= {"op", "trig", "attention", "step", "gelu",
                                                                        "layernorm", "fot-mpc"}
    assert baseline.compare(warm, {k: committed[k] for k in warm}) == []


@pytest.mark.cold  # the cold side must be cold: not a first point of the session's pool
def test_a_seeded_point_opens_the_same_masks_warm_as_cold(monkeypatch):
    """Under a protocol seed a cold run repeats bit for bit; a warm point must repeat it too, also
    the second point of a pool (fresh generators per point, derived as a cold run derives them)."""
    monkeypatch.setenv(PROTOCOL_SEED_ENV, "4242")
    points = [("op", {"op": "softmax", "size": 16}), ("attention", {"impl": "rfa-onepass", "seq": 32, "heads": 2,
                                                                     "head_dim": 16, "features": 16})]
    def errors(rec):  # the op's mean error sums every element's rounding: it differs with the masks
        return rec["max_abs_err"], rec.get("mean_abs_err")

    cold = [errors(run_one(w, p, LINKS)) for w, p in points]
    with pool.warm():
        warm = [errors(run_one(w, p, LINKS)) for w, p in points]
    assert warm == cold and cold[0][1] > 0  # errors that depend on the masks, equal to the last bit


def _same(a: list, b: list) -> int:
    """Elements equal in two nested lists of ring integers."""
    return sum(x == y for x, y in zip(json.dumps(a).split(","), json.dumps(b).split(",")))


def test_two_points_in_one_pool_open_different_masks_for_the_same_input():
    with pool.warm():
        first = run_parties(Task("party_tasks:opened_beaver_masks", {}), timeout=120)[0]
        second = run_parties(Task("party_tasks:opened_beaver_masks", {}), timeout=120)[0]
    # fresh dealer masks: (x - a) differs in (almost) every element; a fresh zero-sharing: so does the split
    assert _same(first["opened"], second["opened"]) < 4 and _same(first["share"], second["share"]) < 4


@pytest.mark.cold
def test_a_seeded_second_point_has_the_dealer_masks_and_share_split_of_a_cold_run(monkeypatch):
    """Under a protocol seed, the second point of a pool sees exactly what a cold run sees: the
    same dealer masks (opened x - a) and the same share of x (the parties' zero-sharing)."""
    monkeypatch.setenv(PROTOCOL_SEED_ENV, "77")
    task = Task("party_tasks:opened_beaver_masks", {})
    cold = run_parties(task, timeout=120)[0]
    with pool.warm():
        run_parties(task, timeout=120)
        warm = run_parties(task, timeout=120)[0]
    assert warm == cold


def test_a_point_killed_mid_run_is_reported_and_the_next_point_runs_in_a_fresh_pool():
    with pool.warm():
        with pytest.raises(PartyError, match=r"party 1 failed \(killed by signal SIGKILL\)"):
            run_parties(Task("party_tasks:die_mid_run", {"marker": "pool"}), timeout=120)
        out = run_parties(Task("party_tasks:echo_rank", {"marker": "after"}), timeout=120)
    assert [r["rank"] for r in out] == [0, 1] and {r["marker"] for r in out} == {"after"}


def test_a_pool_leaves_no_process_or_folder_behind():
    with pool.warm():
        run_parties(Task("party_tasks:echo_rank", {"marker": "x"}), timeout=120)
        pids = [p.pid for p in pool._ACTIVE.pools[0].procs.values()]
        folder = pool._ACTIVE.pools[0].folder
        assert len(pids) == 3 and folder.exists()
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    assert not folder.exists()


@pytest.mark.cold
def test_points_over_an_emulated_link_or_outside_a_warm_block_run_cold(monkeypatch):
    assert pool.use(2, "ttp", 1, emulate=None) is None  # no warm block
    with pool.warm():
        assert pool.use(2, "ttp", 1, emulate=object()) is None
        plain = pool.use(2, "ttp", 1, emulate=None)
        assert plain is pool.use(2, "ttp", 1, emulate=None)
        assert pool.use(3, "ttp", 1, emulate=None) is not plain
        with pool.cold():  # --cold inside a warm block (a CLI called in a warm session)
            assert pool.use(2, "ttp", 1, emulate=None) is None
        # a protocol seed set (or another import path) after the pool started: processes that start with it
        monkeypatch.setenv(PROTOCOL_SEED_ENV, "5")
        seeded = pool.use(2, "ttp", 1, emulate=None)
        assert seeded is not plain and seeded is pool.use(2, "ttp", 1, emulate=None)
        monkeypatch.delenv(PROTOCOL_SEED_ENV)
        assert pool.use(2, "ttp", 1, emulate=None) is plain


def _owner_point(marker: str):
    return run_parties(Task("party_tasks:owner_square", {"marker": marker}), timeout=120,
                       owner=Task("party_tasks:owner_square_data", {"marker": marker}))


@pytest.mark.cold  # the cold side must be cold
def test_a_seeded_point_with_a_data_owner_runs_warm_exactly_as_cold(monkeypatch):
    """The owner's masks (what each server receives) and the dealer's (the rounding of x * x that the
    owner adds up) repeat bit for bit under a protocol seed, cold and as a pool's second owner point."""
    monkeypatch.setenv(PROTOCOL_SEED_ENV, "31")
    cold_parties, cold_owner = _owner_point("a")
    with pool.warm():
        _owner_point("a")
        warm_parties, warm_owner = _owner_point("a")
    assert [p["received"] for p in warm_parties] == [p["received"] for p in cold_parties]
    assert warm_owner["result"]["y"] == cold_owner["result"]["y"]
    assert warm_owner["traffic"] == cold_owner["traffic"]
    # the value itself: x * x of 16-bit fixed point, added up by the owner alone
    want = [(-1 + 2 * i / 31) ** 2 for i in range(32)]
    assert max(abs(a - b) for a, b in zip(warm_owner["result"]["y"], want)) < 1e-3


def test_each_point_in_a_pool_gets_its_own_data_owner_with_fresh_masks():
    with pool.warm():
        first_parties, first_owner = _owner_point("first")
        second_parties, second_owner = _owner_point("second")
        assert len(pool._ACTIVE.pools) == 1 and len(pool._ACTIVE.pools[0].procs) == 3  # no owner kept
    assert first_owner["result"]["pid"] != second_owner["result"]["pid"]
    assert {p["marker"] for p in second_parties} == {"second"}
    for a, b in zip(first_parties, second_parties):  # the owner's masks are fresh per point
        assert _same(a["received"], b["received"]) < 4
    assert max(abs(a - b) for a, b in zip(first_owner["result"]["y"], second_owner["result"]["y"])) < 1e-3


def test_a_data_owner_that_dies_ends_the_point_and_the_next_point_runs_in_a_fresh_pool():
    with pool.warm():
        with pytest.raises(PartyError, match=r"data owner failed \(killed by signal SIGKILL\)"):
            _owner_point("die")
        parties_out, owner_out = _owner_point("after")
    assert {p["marker"] for p in parties_out} == {"after"} and owner_out["result"]["marker"] == "after"
