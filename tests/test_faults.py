"""Faults: stopping the launcher in any way leaves no party, dealer, data owner or run folder behind.

Each case starts a real launcher (a Python process calling ``run_parties``, or ``secfwt run``),
waits until its parties are computing, signals the launcher, and then looks for any process that
still carries the case's marker in its environment.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from secfwt.mpc import parties

pytestmark = pytest.mark.cold

TESTS = Path(__file__).parent
MARKER_ENV = "SECFWT_FAULT_CASE"


def _marked(marker: str) -> list[int]:
    """Pids of live processes whose environment carries the marker (the launcher's children)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            environ = (proc / "environ").read_bytes()
            state = (proc / "stat").read_text().split(")")[-1].split()[0]
        except OSError:
            continue
        if f"{MARKER_ENV}={marker}".encode() in environ.split(b"\0") and state != "Z":
            pids.append(int(proc.name))
    return pids


def _start(cmd: list[str], marker: str, children: int) -> subprocess.Popen:
    env = {**os.environ, MARKER_ENV: marker,
           "PYTHONPATH": str(TESTS) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    # a shell's background jobs start with SIGINT ignored, and Python keeps it so: restore the default
    launcher = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while len([p for p in _marked(marker) if p != launcher.pid]) < children:
        assert launcher.poll() is None, launcher.stderr.read().decode()
        assert time.monotonic() < deadline, "the parties never started"
        time.sleep(0.2)
    time.sleep(1.0)  # let them connect and start computing
    return launcher


def _run_folder(pid: int) -> Path:
    folders = [f for f in Path(tempfile.gettempdir()).glob(parties.RUN_PREFIX + "*")
               if (f / "launcher.pid").exists() and (f / "launcher.pid").read_text() == str(pid)]
    assert len(folders) == 1
    return folders[0]


def _gone(marker: str, launcher: subprocess.Popen, within: float = 15.0) -> list[int]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        left = [p for p in _marked(marker) if p != launcher.pid]
        if not left:
            return []
        time.sleep(0.2)
    return left


HANG = [sys.executable, "-c", "from secfwt.mpc.parties import Task, run_parties; "
                              "run_parties(Task('party_tasks:hang', {'marker': 'x'}), timeout=600)"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signalled_launcher_kills_every_party_and_removes_its_folder(sig):
    marker = uuid.uuid4().hex
    launcher = _start(HANG, marker, children=3)  # two parties and the dealer
    folder = _run_folder(launcher.pid)
    launcher.send_signal(sig)
    code = launcher.wait(timeout=30)
    assert code != 0
    assert _gone(marker, launcher) == []
    assert not folder.exists()


def test_a_killed_launcher_takes_its_parties_with_it_and_the_next_run_sweeps_its_folder():
    marker = uuid.uuid4().hex
    launcher = _start(HANG, marker, children=3)
    folder = _run_folder(launcher.pid)
    launcher.kill()
    launcher.wait(timeout=30)
    assert _gone(marker, launcher) == []  # PR_SET_PDEATHSIG: the kernel kills them
    assert folder.exists()  # nothing could clean up after SIGKILL ...
    parties._remove_stale_run_folders()  # ... so the next run does
    assert not folder.exists()


def test_cli_run_stopped_by_sigterm_leaves_nothing_and_exits_nonzero(tmp_path):
    """The issue's reproduction: `timeout 10 secfwt run step ...` used to leave three orphans."""
    marker = uuid.uuid4().hex
    out = tmp_path / "f.jsonl"
    cmd = [sys.executable, "-m", "secfwt", "run", "step", "--param", "method=fot", "--param", "model=base",
           "--param", "layers=2", "--param", "seq=256", "--out", str(out), "--no-progress"]
    launcher = _start(cmd, marker, children=3)
    launcher.send_signal(signal.SIGTERM)
    assert launcher.wait(timeout=30) != 0
    assert _gone(marker, launcher) == []
    assert not out.exists() or out.read_text() == ""  # nothing half-written


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_signal_outside_any_mpc_run_stops_the_command_with_a_line_and_its_code(tmp_path, sig):
    """SIGTERM / SIGHUP while the command is not in a party run (here a plaintext tuning run in the
    launcher's own process): exit 128 + n with one line, and the --out lock released."""
    out = tmp_path / "t.jsonl"
    lock = Path(str(out) + ".lock")
    cmd = [sys.executable, "-m", "secfwt", "run", "tune", "--param", "task=sst2", "--param", "method=fot",
           "--param", "budget=500", "--links", "lan", "--out", str(out), "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    t0 = time.monotonic()
    while not lock.exists() and proc.poll() is None and time.monotonic() - t0 < 120:
        time.sleep(0.05)
    assert lock.exists(), proc.stderr.read() if proc.poll() is not None else "no lock"
    time.sleep(2)  # tuning, in the launcher's own process
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, err
    assert f"stopped by {signal.Signals(sig).name}" in err
    assert not lock.exists()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_parallel_plaintext_sweep_takes_its_workers_with_it_and_keeps_their_states(tmp_path, sig):
    """`secfwt run tune --jobs 2`: two worker processes tune; however the launcher ends, they end too,
    and a FoT run's saved state stays for the rerun to continue."""
    marker = uuid.uuid4().hex
    out = tmp_path / "t.jsonl"
    cmd = [sys.executable, "-m", "secfwt", "run", "tune", "--param", "seed=13,21", "--param", "budget=400",
           "--param", "eval_every=1", "--param", "population=2", "--param", "intrinsic_dim=10", "--param",
           "test_rows=8", "--links", "lan", "--out", str(out), "--jobs", "2", "--no-progress"]
    launcher = _start(cmd, marker, children=2)
    state = out.with_name(out.name + ".state")
    deadline = time.monotonic() + 120
    while len(list(state.glob("*.pkl"))) < 2 and time.monotonic() < deadline:  # both runs saved a state
        time.sleep(0.5)
    launcher.send_signal(sig)
    assert launcher.wait(timeout=30) != 0
    assert _gone(marker, launcher) == []
    assert len(list(state.glob("*.pkl"))) == 2 and not out.exists()


def test_a_parallel_plaintext_sweep_of_more_points_than_workers_finishes_and_leaves_no_worker(tmp_path):
    """`--jobs 2` over 3 points: the third runs in a replacement worker.  It used to hang at the end:
    replacements died with the pool's helper thread (PR_SET_PDEATHSIG follows the forking thread)
    while holding the task queue's lock, and ``terminate()`` waited on that lock for ever."""
    marker = uuid.uuid4().hex
    out = tmp_path / "t.jsonl"
    cmd = [sys.executable, "-m", "secfwt", "run", "tune", "--param", "seed=13,21,42", "--param", "budget=2",
           "--param", "population=2", "--param", "intrinsic_dim=10", "--param", "test_rows=8", "--links", "lan",
           "--out", str(out), "--jobs", "2", "--no-progress"]
    launcher = _start(cmd, marker, children=2)
    try:
        _, err = launcher.communicate(timeout=240)
    finally:
        launcher.kill()
    assert launcher.returncode == 0, err.decode()
    assert b"Loading weights" not in err  # --no-progress silences transformers' bars in the workers too
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["params"]["seed"] for r in records) == [13, 21, 42]
    assert all(r["status"] == "ok" for r in records)
    assert _gone(marker, launcher) == []


# -- the rendezvous: who may join, and what they must agree on --------------------------------------
def _party_run(params_by_rank: dict, tokens: dict | None = None, timeout: float = 120):
    """`secfwt party` for ranks 0, 1 and the dealer; returns {rank: (exit code, stderr)}."""
    master = f"127.0.0.1:{parties.free_port()}"
    procs = {}
    for rank, params in params_by_rank.items():
        env = {**os.environ, "SECFWT_RUN_TOKEN": (tokens or {}).get(rank, "shared-secret")}
        cmd = [sys.executable, "-m", "secfwt", "party", "op", "--world-size", "2", "--master", master,
               "--rank", str(rank)] + [a for k, v in params.items() for a in ("--param", f"{k}={v}")]
        procs[rank] = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = {}
    try:
        for rank, p in procs.items():
            _, err = p.communicate(timeout=timeout)
            out[rank] = (p.returncode, err)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
    return out


def test_parties_that_disagree_on_the_run_stop_with_a_clear_error():
    """Used to exit 0 with an error of 3.9e9: rank 0 multiplied, rank 1 took a matmul."""
    got = _party_run({0: {"op": "mul", "size": 8}, 1: {"op": "matmul", "size": 8}, 2: {"op": "mul", "size": 8}})
    for rank in (0, 1, 2):
        code, err = got[rank]
        assert code == 2 and "disagree on parameter op" in err and "Traceback" not in err, (rank, err)
        assert "parameter size" not in err  # only what differs is named


@pytest.mark.parametrize("intruder", [1, 2])
def test_a_party_or_dealer_without_the_shared_token_is_refused(intruder):
    """The dealer deals every mask: one without the token (or with other parameters) must not join."""
    same = {"op": "mul", "size": 8}
    got = _party_run({0: same, 1: same, 2: same}, tokens={intruder: "guessed"})
    for rank in (0, 1, 2):
        code, err = got[rank]
        assert code == 2 and "disagree on SECFWT_RUN_TOKEN" in err and "Traceback" not in err, (rank, err)


def test_a_dealer_started_for_another_run_is_refused():
    got = _party_run({0: {"op": "mul", "size": 8}, 1: {"op": "mul", "size": 8}, 2: {"op": "matmul", "size": 8}})
    for rank in (0, 1, 2):
        code, err = got[rank]
        assert code == 2 and "disagree on parameter op" in err and "Traceback" not in err, (rank, err)


def test_an_invalid_rank_is_refused_at_once():
    proc = subprocess.run([sys.executable, "-m", "secfwt", "party", "op", "--world-size", "2", "--master",
                           "127.0.0.1:1", "--rank", "5"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "rank 5" in proc.stderr and "Traceback" not in proc.stderr


def _socket_inodes(pid: int) -> set[str]:
    """The inodes of the sockets ``pid`` holds now (its fds come and go while they are read)."""
    inodes = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                link = os.readlink(fd)
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
    return inodes


def _sockets(pids: list[int]) -> list[tuple[str, str]]:
    """(local address, state) of every TCP socket the given processes own."""
    inodes = set().union(*(_socket_inodes(pid) for pid in pids))
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            if cols[9] in inodes:
                found.append((cols[1].split(":")[0], cols[3]))
    return found


def _listening(pid: int, port: int) -> list[str]:
    """Local addresses (hex, as /proc/net writes them) on which ``pid`` listens on ``port``."""
    inodes = _socket_inodes(pid)
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            cols = line.split()
            addr, _, hex_port = cols[1].partition(":")
            if cols[9] in inodes and cols[3] == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                out.append(addr)
    return out


def test_party_mode_serves_its_rendezvous_only_where_master_says():
    """`secfwt party --rank 0 --master 127.0.0.1:PORT`: torch's store would listen on every interface;
    it listens on 127.0.0.1 alone."""
    from secfwt.mpc.parties import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "secfwt", "party", "op", "--rank", "0", "--world-size", "2",
                             "--master", f"127.0.0.1:{port}", "--param", "size=4", "--join-timeout", "30"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "SECFWT_RUN_TOKEN": "t"})
    try:
        deadline = time.monotonic() + 60
        while not (addresses := _listening(proc.pid, port)):
            assert proc.poll() is None and time.monotonic() < deadline, "the store never listened"
            time.sleep(0.2)
    finally:
        proc.kill()
        proc.wait()
    assert addresses == ["0100007F"], addresses  # 127.0.0.1 only: not 0.0.0.0, not ::


def test_local_runs_use_loopback_only():
    """Every socket of a local run (gloo's listeners and connections; the rendezvous is a file) is
    bound to loopback: nothing listens on or talks through another interface."""
    marker = uuid.uuid4().hex
    launcher = _start(HANG, marker, children=3)
    try:
        deadline = time.monotonic() + 60
        while len(sockets := _sockets([p for p in _marked(marker) if p != launcher.pid])) < 6:
            assert time.monotonic() < deadline, sockets  # gloo connects each pair of the 3 processes
            time.sleep(0.5)
    finally:
        launcher.send_signal(signal.SIGTERM)
        launcher.wait(timeout=30)
    loopback = {"0100007F", "00000000000000000000000001000000"}  # 127.0.0.1, ::1
    assert sockets, "no socket seen: the check would pass vacuously"
    assert {addr for addr, _ in sockets} <= loopback, sockets


# -- --out: checked before any run ---------------------------------------------------------------
@pytest.mark.parametrize("content,message", [
    ("{}\n", "not a secfwt record"),
    ("[1, 2]\n", "not a secfwt record"),
    ("hello\n", "no secfwt record"),
])
def test_an_out_file_that_is_not_records_is_refused_before_any_run(tmp_path, content, message):
    out = tmp_path / "f.jsonl"
    out.write_text(content)
    proc = subprocess.run([sys.executable, "-m", "secfwt", "run", "op", "--param", "size=4", "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
    assert out.read_text() == content  # untouched


def test_an_unwritable_out_is_refused_before_any_run(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "secfwt", "run", "op", "--param", "size=4",
                           "--out", "/proc/x.jsonl"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "cannot be written" in proc.stderr, proc.stderr
    assert "rounds" not in proc.stdout  # refused before measuring, not after


def test_a_torn_line_from_a_killed_sweep_is_skipped_and_rerun(tmp_path):
    from secfwt.results import Store

    out = tmp_path / "f.jsonl"
    good = '{"params": {}, "provider": "ttp", "status": "ok", "workload": "op", "world_size": 2}'
    out.write_text(good + "\n" + '{"params": {"op": "m' + "\n" + good + "\n")
    assert len(Store(out).load()) == 2


# -- stalls: a stopped party ends the run in seconds, named ---------------------------------------
def test_a_stopped_party_ends_the_run_in_seconds_and_is_named():
    from secfwt.mpc.parties import PartyError, Task, run_parties

    marker = uuid.uuid4().hex
    os.environ[MARKER_ENV] = marker
    try:
        with pytest.raises(PartyError, match=r"stalled.*party 1 stopped") as info:
            run_parties(Task("party_tasks:stop_rank1", {"marker": marker}), timeout=300, stall_s=5)
    finally:
        del os.environ[MARKER_ENV]
    assert "timed out" not in str(info.value)  # the watchdog, not the 300 s timeout, ended it
    assert _gone(marker, subprocess.Popen(["true"])) == []


def test_the_stall_watch_keeps_watching_the_live_processes_once_one_has_exited():
    from secfwt.mpc.parties import PartyError, StallWatch

    done = subprocess.Popen(["true"])
    done.wait()  # exited and reaped: /proc has nothing for it any more
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        watch = StallWatch(0.3)
        t0 = time.monotonic()
        with pytest.raises(PartyError, match="stalled"):
            while time.monotonic() - t0 < 5:
                watch.check({0: done, 1: sleeper}, 2)
                time.sleep(0.05)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_party_stopped_in_teardown_ends_the_run_at_the_stall_limit_and_keeps_the_result():
    """Rank 0 has written the result and exited; party 1 stops (SIGSTOP) while shutting down.  The
    stall watch still watches the processes that are alive (an exited one no longer resets it), so
    the run ends as a stall naming party 1, not at the run's timeout, and the result is kept."""
    from secfwt.mpc.parties import Task, run_parties

    marker = uuid.uuid4().hex
    os.environ[MARKER_ENV] = marker
    try:
        out = run_parties(Task("party_tasks:stop_in_teardown_rank1", {"marker": marker}), timeout=240, stall_s=5)
    finally:
        del os.environ[MARKER_ENV]
    assert [p["rank"] for p in out] == [0, 1] and all(p["marker"] == marker for p in out)  # the result, kept
    assert "stalled" in out[0]["teardown_error"] and "party 1 stopped" in out[0]["teardown_error"]
    assert "timed out" not in out[0]["teardown_error"]
    assert _gone(marker, subprocess.Popen(["true"])) == []


def test_a_second_writer_to_the_same_out_is_refused(tmp_path):
    marker = uuid.uuid4().hex
    out = tmp_path / "f.jsonl"
    first = _start([sys.executable, "-m", "secfwt", "run", "step", "--param", "method=fot", "--param", "model=base",
                    "--param", "layers=2", "--param", "seq=256", "--out", str(out), "--no-progress"], marker, children=3)
    try:
        second = subprocess.run([sys.executable, "-m", "secfwt", "run", "op", "--param", "size=4", "--out", str(out)],
                                capture_output=True, text=True, timeout=120)
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=30)
    assert second.returncode == 2 and "being written by another secfwt run" in second.stderr, second.stderr
    assert not Path(str(out) + ".lock").exists()  # released by the first run's clean exit


# -- the same command twice: identical counts, and with a protocol seed identical errors ----------
def test_a_protocol_seed_makes_errors_repeat_and_is_recorded_as_insecure():
    def run(*extra):
        proc = subprocess.run([sys.executable, "-m", "secfwt", "run", "op", "--param", "op=softmax", "--param",
                               "size=16", "--format", "json", *extra], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        return __import__("json").loads(proc.stdout)[0]

    a, b, free = run("--protocol-seed", "7"), run("--protocol-seed", "7"), run()
    assert (a["rounds"], a["bytes"]) == (b["rounds"], b["bytes"]) == (free["rounds"], free["bytes"])
    # the mean error sums all 256 elements' rounding: the largest alone falls on the same fixed-point
    # step in about one unseeded run in ten
    assert (a["max_abs_err"], a["mean_abs_err"]) == (b["max_abs_err"], b["mean_abs_err"])
    assert a["mean_abs_err"] != free["mean_abs_err"]
    assert a["protocol_seed"] == 7 and "NOT secure" in a["security"] and "protocol_seed" not in free


def test_a_dealer_whose_parties_fail_mid_run_does_not_report_success(tmp_path):
    """One process per rank, as on separate hosts: party 1 raises mid-run.  Party 0 then never says
    "terminate", and the dealer exits 1 saying so (it used to exit 0, as if the run had ended)."""
    master = (tmp_path / "rendezvous").as_uri()
    task = json.dumps({"target": "party_tasks:raise_on_rank1", "kwargs": {"marker": "dealer"}})
    env = {**os.environ, "PYTHONPATH": str(TESTS) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "SECFWT_RUN_TOKEN": "t"}
    procs = {r: subprocess.Popen([sys.executable, "-m", "secfwt.mpc.parties", "--rank", str(r), "--world-size", "2",
                                  "--master", master, "--task", task], env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for r in (0, 1, 2)}
    try:
        out = {r: p.communicate(timeout=120) for r, p in procs.items()}
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
    assert procs[1].returncode == 1 and "boom from the test" in out[1][1]
    assert procs[2].returncode == 1 and "the parties went away before the run ended" in out[2][1]
    assert procs[0].returncode != 0
