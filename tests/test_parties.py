"""The launcher: real processes over TCP, failures surface fast, nothing is left behind."""

import uuid
from pathlib import Path

import pytest

from secfwt.mpc.parties import PartyError, Task, run_parties

pytestmark = pytest.mark.cold


def _processes_with(marker: str) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker.encode() in (proc / "cmdline").read_bytes():
                    pids.append(int(proc.name))
            except OSError:
                pass
    return pids


@pytest.mark.parametrize("provider", ["ttp", "tfp"])
def test_every_party_returns_and_rank0_gathers(provider):
    marker = uuid.uuid4().hex
    out = run_parties(Task("party_tasks:echo_rank", {"marker": marker}), provider=provider, timeout=60)
    assert out == [{"rank": 0, "marker": marker}, {"rank": 1, "marker": marker}]
    assert _processes_with(marker) == []


def test_a_party_that_raises_fails_the_run_with_its_traceback():
    marker = uuid.uuid4().hex
    with pytest.raises(PartyError) as info:
        run_parties(Task("party_tasks:raise_on_rank1", {"marker": marker}), timeout=120)
    # failed by the party's error, not by the 120 s run timeout (the message says which); no time asserted
    msg = str(info.value)
    assert "party 1 failed" in msg and "ValueError: boom from the test" in msg and "Traceback" in msg
    assert _processes_with(marker) == []


def test_a_result_complete_at_rank0_survives_a_failed_teardown():
    """Party 1 exits 7 while shutting down, after rank 0 holds every result: the results are kept
    and marked, not turned into an error."""
    marker = uuid.uuid4().hex
    out = run_parties(Task("party_tasks:fail_in_teardown_rank1", {"marker": marker}), timeout=120)
    assert [r["rank"] for r in out] == [0, 1] and all(r["marker"] == marker for r in out)
    assert all("party 1 failed (exit code 7)" in r["teardown_error"] for r in out)
    assert _processes_with(marker) == []


def test_a_party_killed_mid_run_fails_the_run_at_once():
    marker = uuid.uuid4().hex
    with pytest.raises(PartyError) as info:
        run_parties(Task("party_tasks:die_mid_run", {"marker": marker}), timeout=120)
    # failed by the party's error, not by the 120 s run timeout (the message says which); no time asserted
    assert "party 1 failed (killed by signal SIGKILL)" in str(info.value)
    assert _processes_with(marker) == []


def test_a_hung_run_times_out_and_is_reaped():
    marker = uuid.uuid4().hex
    with pytest.raises(PartyError, match="timed out after 8 s"):
        run_parties(Task("party_tasks:hang", {"marker": marker}), timeout=8)
    assert _processes_with(marker) == []


def test_bad_arguments_are_rejected_before_anything_starts():
    with pytest.raises(ValueError, match="unknown provider"):
        run_parties(Task("x:y", {}), provider="ttq")
    with pytest.raises(ValueError, match="at least two"):
        run_parties(Task("x:y", {}), world_size=1)


def test_the_party_that_raised_is_reported_before_peers_that_lost_their_connection():
    from secfwt.mpc.parties import _failure_rank_order

    raised = "Traceback (most recent call last):\nValueError: boom from the test"
    lost = "[rank0]: RuntimeError: [pair.cc:553] Connection closed by peer [127.0.0.1]:1234"
    killed, aborted = _failure_rank_order(-9, ""), _failure_rank_order(-6, "")  # from outside; gloo's own abort
    assert _failure_rank_order(1, raised) < killed < _failure_rank_order(1, lost) < aborted
    assert min([(0, lost), (1, raised)], key=lambda r: _failure_rank_order(1, r[1]))[0] == 1


def test_a_party_whose_data_owner_went_away_is_a_consequence_not_the_cause():
    """The owner link's own error (a closed socket) ranks after the killed data owner: the launcher
    names the owner, whichever process it sees exit first."""
    import socket

    from secfwt.mpc import owner
    from secfwt.mpc.parties import _failure_rank_order

    mine, theirs = socket.socketpair()
    theirs.close()
    with mine, pytest.raises(ConnectionError) as lost:
        owner._recv_frame(mine)
    tail = f"Traceback (most recent call last):\nConnectionError: {lost.value}"
    assert _failure_rank_order(-9, "") < _failure_rank_order(1, tail)


def test_the_root_cause_is_reported_even_when_the_peers_fail_first():
    """Party 1 raises after its connections closed, and its process exits last: the dealer's "the
    parties went away" and party 0's lost connection come first; the launcher still reports
    party 1's own error."""
    from secfwt.mpc.parties import PartyError, Task, run_parties

    with pytest.raises(PartyError) as info:
        run_parties(Task("party_tasks:raise_on_rank1_after_leaving", {"marker": "m"}), timeout=120)
    first = str(info.value).splitlines()[0]
    assert first.startswith("party 1 failed (exit code 1)") and "the root cause, from the test" in first, first
