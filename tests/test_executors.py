"""``--executor dask`` (secfwt/executors.py): points as Dask tasks on a LocalCluster of two workers.

The counts a Dask worker measures equal the local run's, records land in grid order, a tuning run
goes through the same executor, and the faults: a worker killed mid-point has its point retried on
the other worker; Ctrl-C stops every worker's parties.  No marked process may be left either way."""

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from test_faults import MARKER_ENV, TESTS, _gone, _marked

from secfwt import cli
from secfwt.executors import Dask
from secfwt.links import PROFILES
from secfwt.results import Store
from secfwt.runner import expand_grid, run_grid

LINKS = [PROFILES["lan"]]
SIZE = 64


COUNTS = ("rounds", "bytes", "offline_rounds", "offline_bytes", "duplex_bytes")


def _counts(scopes: dict) -> dict:
    return {path: {k: tally.get(k) for k in COUNTS} for path, tally in scopes.items()}


def _key(record: dict) -> tuple:
    return record["workload"], tuple(sorted(record["params"].items()))


@pytest.mark.parties
def test_dask_workers_measure_the_local_counts_and_records_land_in_grid_order(tmp_path):
    grid = {"op": ["mul", "matmul"], "size": [8, 24]}
    tune = {"budget": [1], "eval_every": [1], "population": [2], "intrinsic_dim": [10], "test_rows": [16]}
    local = {_key(r): r for w, g in (("op", grid), ("tune", tune)) for r in run_grid(w, g, LINKS, progress=False)}
    out = Store(tmp_path / "dask.jsonl")
    with Dask(workers=2) as executor:
        scratch = executor.scratch
        for w, g in (("op", grid), ("tune", tune)):
            list(run_grid(w, g, LINKS, store=out, progress=False, executor=executor))
    stored = out.load()
    assert [_key(r) for r in stored] == [_key({"workload": w, "params": p})
                                         for w, g in (("op", grid), ("tune", tune)) for p in expand_grid(w, g)]
    for r in stored:
        mine = local[_key(r)]
        assert r["status"] == mine["status"] == "ok"
        assert r["env"]["executor"]["kind"] == "dask" and r["env"]["executor"]["attempts"] == 1
        if r["workload"] == "op":  # exact counts, every scope
            assert (r["rounds"], r["bytes"], r["offline_bytes"]) == (mine["rounds"], mine["bytes"], mine["offline_bytes"])
            assert _counts(r["scopes"]) == _counts(mine["scopes"])
        else:  # the plaintext twin is seeded: the same trajectory
            assert [p["test_acc"] for p in r["trajectory"]] == [p["test_acc"] for p in mine["trajectory"]]
    assert len({r["env"]["executor"]["worker"] for r in stored}) == 2  # both workers took points
    assert not os.path.exists(scratch)  # the LocalCluster's folders and locks are gone


#: a point of ~10 s after its parties start (softmax attention at L = 512): long enough to see whether
#: a killed worker's parties stop at once or only when their point ends
LONG_POINT = ("attention", "--param", "impl=softmax-stable", "--param", "seq=512", "--param", "heads=4",
              "--param", "head_dim=32")
SHORT_POINT = ("op", "--param", "op=matmul", "--param", f"size={SIZE}")


def _launch(marker: str, out, point=SHORT_POINT, cluster=("--workers", "2")) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "secfwt", "run", *point, "--links", "lan", "--executor", "dask", *cluster,
           "--out", str(out), "--no-progress"]
    env = {**os.environ, MARKER_ENV: marker, "PYTHONPATH": str(TESTS) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def _first_party(marker: str, launcher: subprocess.Popen) -> int:
    """The pid of a party of the point (a warm-pool process under a worker's point server)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert launcher.poll() is None, launcher.stderr.read().decode()
        for pid in _marked(marker):
            try:
                if b"secfwt.mpc.pool" in open(f"/proc/{pid}/cmdline", "rb").read():
                    return pid
            except OSError:
                continue
        time.sleep(0.1)
    raise AssertionError("no party started")


def _parent(pid: int) -> int:
    return int(open(f"/proc/{pid}/stat").read().split(")")[-1].split()[1])


def _alive(pid: int) -> bool:
    try:
        return open(f"/proc/{pid}/stat").read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.parties
def test_a_worker_killed_mid_point_has_the_point_retried_and_its_parties_stop_at_once(tmp_path):
    marker, out = uuid.uuid4().hex, tmp_path / "killed.jsonl"
    launcher = _launch(marker, out, LONG_POINT)
    try:
        party = _first_party(marker, launcher)
        server = _parent(party)
        assert b"secfwt.executors" in open(f"/proc/{server}/cmdline", "rb").read()
        orphans = [server] + [p for p in _marked(marker) if _alive(p) and _parent(p) == server]
        assert len(orphans) >= 3  # the point server, its two parties (and the dealer, once started)
        os.kill(_parent(server), signal.SIGKILL)  # the Dask worker running the point
        deadline = time.monotonic() + 6  # the point would run ~10 s more: its parties must not
        while any(_alive(p) for p in orphans) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(p) for p in orphans)
        _, err = launcher.communicate(timeout=240)
    finally:
        launcher.kill()
    assert launcher.returncode == 0, err.decode()
    (record,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert record["status"] == "ok" and record["env"]["executor"]["attempts"] == 2  # retried on a live worker
    assert _gone(marker, launcher) == []


@pytest.fixture
def cluster(monkeypatch, tmp_path):
    """A running cluster of one worker that outlives the client (as `dask scheduler` + `dask worker`
    would), whose processes carry a marker: (scheduler address, marker)."""
    from distributed import LocalCluster

    marker = uuid.uuid4().hex
    monkeypatch.setenv(MARKER_ENV, marker)  # the workers and what they start inherit it
    monkeypatch.setenv("PYTHONPATH", str(TESTS) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    import dask

    with dask.config.set({"temporary-directory": str(tmp_path)}), \
            LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None,
                         memory_limit=0, silence_logs=40, local_directory=str(tmp_path / "dask")) as running:
        yield running.scheduler_address, marker


def _points_left(marker: str, within: float = 30.0) -> list[int]:
    """Marked point servers and parties still alive after ``within`` seconds (the workers stay)."""
    deadline = time.monotonic() + within
    while True:
        left = []
        for pid in _marked(marker):
            try:
                if any(m in open(f"/proc/{pid}/cmdline", "rb").read() for m in (b"secfwt.mpc", b"secfwt.executors")):
                    left.append(pid)
            except OSError:
                continue
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


@pytest.mark.parties
@pytest.mark.parametrize("mode", ["local-cluster", "scheduler"])
def test_ctrl_c_stops_every_workers_parties(mode, tmp_path, request):
    """Ctrl-C in the client: with its own LocalCluster the workers close with it; with a running
    cluster the workers stay, and the sweep's cancel event stops their point servers and parties."""
    if mode == "scheduler":
        address, marker = request.getfixturevalue("cluster")
        launcher = _launch(marker, tmp_path / "interrupted.jsonl", cluster=("--scheduler", address))
    else:
        marker = uuid.uuid4().hex
        launcher = _launch(marker, tmp_path / "interrupted.jsonl")
    try:
        _first_party(marker, launcher)
        launcher.send_signal(signal.SIGINT)
        _, err = launcher.communicate(timeout=120)
    finally:
        launcher.kill()
    assert launcher.returncode == 130, err.decode()
    assert _points_left(marker) == []
    if mode == "local-cluster":
        assert _gone(marker, launcher, within=30) == []  # the workers too


@pytest.mark.parametrize("args", [["--scheduler", "tcp://127.0.0.1:1"], ["--workers", "2"],
                                  ["--executor", "dask", "--scheduler", "tcp://127.0.0.1:1", "--workers", "2"]])
def test_executor_options_that_do_not_fit_are_refused(args, capsys, tmp_path):
    out = tmp_path / "x.jsonl"
    assert cli.main(["run", "op", "--links", "lan", "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert "--executor dask" in err or "--workers starts" in err
    assert not out.exists()


def _reversed_executor(stop_after: int | None = None):
    """An executor whose points finish last first (and, with ``stop_after``, that is interrupted then)."""
    from secfwt.runner import run_one

    def run(workload, todo, links, provider, world_size, emulate, checkpoint):
        for n, i in enumerate(reversed(range(len(todo)))):
            if n == stop_after:
                raise KeyboardInterrupt
            yield i, run_one(workload, todo[i], links, provider=provider, world_size=world_size)
    return run


@pytest.mark.parties
def test_records_are_stored_in_grid_order_and_kept_when_interrupted(tmp_path):
    grid = {"op": ["mul"], "size": [4, 8, 12]}
    want = [_key({"workload": "op", "params": p}) for p in expand_grid("op", grid)]
    store = Store(tmp_path / "ordered.jsonl")
    yielded = list(run_grid("op", grid, LINKS, store=store, progress=False, executor=_reversed_executor()))
    assert [_key(r) for r in yielded] == [_key(r) for r in store.load()] == want
    store = Store(tmp_path / "interrupted.jsonl")
    with pytest.raises(KeyboardInterrupt):
        list(run_grid("op", grid, LINKS, store=store, progress=False, executor=_reversed_executor(stop_after=2)))
    assert [_key(r) for r in store.load()] == want[1:]  # finished, held back for the first point: kept


def test_a_point_server_runs_without_the_environment_dask_set_for_its_worker(monkeypatch):
    """Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 (and thread counts of 1) for its workers: a FoT
    run took 25 s instead of 17 under it.  Points run in the environment a local run has; a value the
    user chose is kept."""
    from secfwt.executors import _point_environment

    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")  # what the nanny sets
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # not the nanny's value: the user's
    env = _point_environment()
    assert "MALLOC_TRIM_THRESHOLD_" not in env and env["OMP_NUM_THREADS"] == "3"
    assert env["PATH"] == os.environ["PATH"]
