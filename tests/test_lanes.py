"""The test lanes of tests/conftest.py: parties-marked tests share the session's warm pool, cold
ones start fresh processes, and an unmarked test that launches parties is stopped."""

import pytest

from secfwt.mpc.parties import Task, run_parties

PIDS = Task("party_tasks:process_id", {})


def _pids() -> list[int]:
    return [r["pid"] for r in run_parties(PIDS, timeout=120)]


@pytest.mark.parties
def test_a_parties_test_sends_its_points_to_the_sessions_warm_pool():
    first, second = _pids(), _pids()
    assert first == second and len(set(first)) == 2


@pytest.mark.cold
def test_a_cold_test_starts_fresh_processes_for_every_point():
    first, second = _pids(), _pids()
    assert len(set(first)) == 2 and not set(first) & set(second)


def test_an_unmarked_test_that_starts_parties_is_stopped_and_told_to_mark_itself():
    with pytest.raises(AssertionError, match="mark it @pytest.mark.parties"):
        run_parties(PIDS, timeout=120)
