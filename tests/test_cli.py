"""The command line: listings, bad input (exit 2, nothing written), resumable sweeps."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from secfwt.cli import main
from secfwt.results import Store


@pytest.fixture(autouse=True)
def run_token(monkeypatch):
    """Party mode needs the run's shared secret: these tests' parties (and their children) have one."""
    monkeypatch.setenv("SECFWT_RUN_TOKEN", "cli-test-token")


def secfwt(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "secfwt", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=300)


def test_list_shows_workloads_and_defaults(capsys):
    assert main(["list", "--format", "json"]) == 0
    items = {w["workload"]: w for w in json.loads(capsys.readouterr().out)}
    params = {p["name"]: p for p in items["attention"]["params"]}
    assert params["seq"]["default"] == 64 and "rfa-builtin" in params["impl"]["choices"]


def test_links_json(capsys):
    assert main(["links", "--format", "json"]) == 0
    got = json.loads(capsys.readouterr().out)
    assert got == [{"name": "lan", "bandwidth_bps": 3e9, "latency_s": 0.0008, "duplex": "half"},
                   {"name": "wan200", "bandwidth_bps": 2e8, "latency_s": 0.04, "duplex": "half"},
                   {"name": "wan100", "bandwidth_bps": 1e8, "latency_s": 0.08, "duplex": "half"}]


@pytest.mark.parametrize("args,needle", [
    (["run", "nope"], "unknown workload"),
    (["run", "attention", "--param", "foo=1"], "no parameter 'foo'"),
    (["run", "attention", "--param", "seq=0"], "must be positive"),
    (["run", "attention", "--param", "seq=-4"], "must be positive"),
    (["run", "attention", "--param", "seq=abc"], "cannot read"),
    (["run", "attention", "--param", "seq"], "NAME=VALUE"),
    (["run", "attention", "--param", "impl=magic"], "not one of"),
    (["run", "attention", "--links", "moon"], "unknown link"),
    (["run", "attention", "--provider", "xyz"], "invalid choice"),
    (["list", "--profile", "nope"], "unknown profile"),
    # values the parties used to reject (exit 1 and an error record), or computed garbage with
    (["run", "trig", "--param", "w=nan"], "finite"),
    (["run", "trig", "--param", "range=inf"], "finite"),
    (["run", "trig", "--param", "w=1e30"], "at most"),
    (["run", "trig", "--param", "size=1000000000"], "at most"),
    (["run", "step", "--param", "seq=1000000000"], "at most"),
    (["run", "step", "--param", "model=tiny.json"], "unknown model"),  # never sent to the model hub
    (["run", "step", "--param", "model=/etc/hostname"], "not a readable JSON config"),
    (["run", "step", "--param", "method=sft", "--param", "prompt_depth=deep"], "method=prompt only"),
    (["run", "step", "--param", "adam_sqrt_iters=0"], "at least"),
    (["run", "op", "--links", "1gbit:1ms:simplex"], "unknown link"),
    (["run", "step", "--param", "method=sft", "--param", "weight_masks=persistent"], "SFT updates every weight"),
    (["run", "layernorm", "--param", "low=10", "--param", "high=1"], "must be below"),
    (["run", "fot-mpc", "--param", "test_offset=480", "--param", "test_rows=32"], "exceeds the 500 test rows"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, needle):
    out = tmp_path / "records.jsonl"
    proc = secfwt(*args, "--out", str(out)) if args[0] == "run" else secfwt(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0]
    assert proc.stdout == ""
    assert not out.exists()


def test_bad_input_is_refused_before_torch_or_crypten_is_imported():
    """Parameters are validated from torch-free registries (secfwt.variants): an invalid combination
    exits 2 in a fraction of a second, not after loading torch and CrypTen (2.5 s)."""
    code = ("import sys\nfrom secfwt.cli import main\n"
            "rc = main(['run', 'step', '--param', 'method=sft', '--param', 'weight_masks=persistent'])\n"
            "print(rc, sorted(m for m in ('torch', 'crypten', 'transformers') if m in sys.modules))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "2 []", proc.stdout + proc.stderr


@pytest.mark.parties
def test_run_appends_records_and_a_rerun_skips_finished_ones(tmp_path):
    out = tmp_path / "r.jsonl"
    args = ["run", "op", "--param", "op=mul,matmul", "--param", "size=8", "--format", "json", "--out", str(out)]
    first = secfwt(*args)
    assert first.returncode == 0, first.stderr
    records = json.loads(first.stdout)
    assert sorted(r["params"]["op"] for r in records) == ["matmul", "mul"]
    assert len(out.read_text().splitlines()) == 2
    # interrupt simulation: drop one finished record and tear the file's last line
    lines = out.read_text().splitlines()
    out.write_text(lines[0] + "\n" + lines[1][:40])
    second = secfwt(*args)
    assert second.returncode == 0, second.stderr
    stored = Store(out).load()  # the torn line is skipped, the missing record was rerun
    assert [r["params"]["op"] for r in stored] == [records[0]["params"]["op"], records[1]["params"]["op"]]
    assert len(json.loads(second.stdout)) == 2  # the whole grid is reported, only one was rerun
    # the same grid under another link: nothing is measured again, the estimates are redone
    third = secfwt(*args, "--links", "wan100")
    assert third.returncode == 0, third.stderr
    again = {r["params"]["op"]: r for r in json.loads(third.stdout)}
    for old in stored:
        new = again[old["params"]["op"]]
        assert (new["rounds"], new["bytes"], new["compute_s"]) == (old["rounds"], old["bytes"], old["compute_s"])
        assert list(new["est_s"]) == ["wan100"] and set(new["reestimated_from"]) == {"lan", "wan200", "wan100"}
        assert new["est_s"]["wan100"] == pytest.approx(old["compute_s"] + old["rounds"] * 2 * 0.08
                                                       + old["bytes"] * 8 / 1e8)
    assert len(Store(out).load()) == 4  # two re-estimated copies appended; the latest wins


@pytest.mark.parties
def test_a_rerun_measures_again_what_other_code_measured(tmp_path):
    """Resume matches on the code version: a finished point measured with other measuring code (or by
    a version that did not record its code) is measured again, with a line that says so (unless
    --keep-stale asks to keep it)."""
    from secfwt import workloads
    from secfwt.results import code_version

    op_code = code_version(workloads.get("op").code)  # the shared measuring code, base.py and op.py
    out = tmp_path / "r.jsonl"
    args = ["run", "op", "--param", "op=mul", "--param", "size=4", "--links", "lan", "--out", str(out)]
    assert secfwt(*args).returncode == 0
    (first,) = Store(out).load()
    assert first["code_version"] == op_code and len(op_code) == 16 and op_code != code_version()
    same = secfwt(*args)
    assert "other code" not in same.stderr and len(Store(out).load()) == 1  # same code: reused
    out.write_text(json.dumps({**first, "code_version": "0123456789abcdef"}) + "\n")
    kept = secfwt(*args, "--keep-stale")  # asked to: kept as it is, with its own code version
    assert kept.returncode == 0 and "keeping 1 finished point(s)" in kept.stderr, kept.stderr
    assert [r["code_version"] for r in Store(out).load()] == ["0123456789abcdef"]
    again = secfwt(*args)
    assert again.returncode == 0, again.stderr
    assert "1 finished point(s)" in again.stderr and "measured with other code" in again.stderr
    stored = Store(out).load()
    assert [r["code_version"] for r in stored] == ["0123456789abcdef", op_code]


def test_code_version_follows_the_measuring_code_only(tmp_path, monkeypatch):
    from secfwt import results

    def digest_of(tree):
        monkeypatch.setattr(results, "__file__", str(tree / "results.py"))
        results.code_version.cache_clear()
        try:
            return results.code_version()
        finally:
            results.code_version.cache_clear()

    import shutil

    tree = tmp_path / "secfwt"
    shutil.copytree(Path(results.__file__).parent, tree, ignore=shutil.ignore_patterns("__pycache__"))
    base = digest_of(tree)
    (tree / "report.py").write_text("# reporting only\n")
    assert digest_of(tree) == base  # reporting code does not decide a measurement
    (tree / "mpc" / "cosine.py").write_text((tree / "mpc" / "cosine.py").read_text() + "\n# changed\n")
    assert digest_of(tree) != base


@pytest.mark.parties
def test_csv_and_table_formats():
    proc = secfwt("run", "op", "--param", "size=4", "--format", "csv", "--links", "lan,1gbit:10ms")
    assert proc.returncode == 0, proc.stderr
    header = proc.stdout.splitlines()[0].split(",")
    assert {"workload", "rounds", "bytes", "est_s_lan", "est_s_1gbit:10ms", "provider"} <= set(header)


@pytest.mark.cold
def test_party_command_runs_one_party_per_process_like_separate_hosts():
    from secfwt.mpc.parties import free_port

    master = f"127.0.0.1:{free_port()}"
    cmd = [sys.executable, "-m", "secfwt", "party", "op", "--world-size", "2", "--master", master,
           "--param", "op=matmul", "--param", "size=8", "--bind", "lo"]
    others = [subprocess.Popen(cmd + ["--rank", str(r)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
              for r in (1, 2)]  # party 1 and the dealer (rank = world size)
    try:
        rank0 = subprocess.run(cmd + ["--rank", "0"], capture_output=True, text=True, timeout=120)
    finally:
        for p in others:
            p.wait(timeout=30)
    assert rank0.returncode == 0, rank0.stderr
    out = json.loads(rank0.stdout)
    # one Beaver opening: two masked 8x8 operands, 8 bytes per element, sent by both parties
    assert out["scopes"][""]["rounds"] == 1 and out["scopes"][""]["bytes"] == 2 * 64 * 8 * 2
    assert out["checks"]["max_abs_err"] < 1e-2
    assert all(p.returncode == 0 for p in others)


@pytest.mark.cold
@pytest.mark.parametrize("rank", [0, 1, 2])
def test_a_party_whose_peers_never_join_gives_up_within_its_join_timeout(rank):
    """Party 0 alone (rendezvous host), party 1 alone, the dealer alone: each ends after --join-timeout
    with one line naming itself, instead of torch's 30 minutes."""
    from secfwt.mpc.parties import free_port

    cmd = [sys.executable, "-m", "secfwt", "party", "op", "--world-size", "2", "--rank", str(rank),
           "--master", f"127.0.0.1:{free_port()}", "--param", "size=4", "--join-timeout", "4"]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    who = {0: "party 0", 1: "party 1", 2: "dealer (TTP)"}[rank]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith(f"secfwt: error: {who} waited 4 s") and "not every party joined" in last
    assert time.monotonic() - t0 < 60  # not torch's 30 minutes (a bound, not a timing measurement)


def test_party_join_timeout_must_be_positive_and_bind_an_interface_that_exists():
    proc = secfwt("party", "op", "--rank", "0", "--master", "127.0.0.1:1", "--join-timeout", "0")
    assert proc.returncode == 2 and "--join-timeout" in proc.stderr
    proc = secfwt("party", "op", "--rank", "0", "--master", "127.0.0.1:1", "--bind", "nosuchif0")
    assert proc.returncode == 2 and proc.stderr.strip().splitlines() == [
        "secfwt: error: --bind nosuchif0: no such network interface on this host"]


@pytest.mark.parametrize("case", ["folder", "empty_object", "text", "baseline_not_json", "baseline_bad_key",
                                  "baseline_folder", "report_out_unwritable", "baseline_string_counter",
                                  "record_without_rounds"])
def test_bad_files_given_to_report_and_gate_are_one_line_exit_2(tmp_path, case):
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps({"workload": "op", "params": {"op": "mul", "size": 4, "seed": 0}, "provider": "ttp",
                                "world_size": 2, "status": "ok", "rounds": 1, "bytes": 1024, "offline_rounds": 1,
                                "offline_bytes": 8, "duplex_bytes": 512}) + "\n")
    (tmp_path / "folder").mkdir()
    (tmp_path / "empty.jsonl").write_text("{}\n")
    (tmp_path / "text.jsonl").write_text("hello\n")
    (tmp_path / "base.json").write_text("not json")
    (tmp_path / "key.json").write_text('[{"key": 1, "rounds": 1}]')
    key = ["op", {"op": "mul", "size": 4, "seed": 0}, "ttp", 2]
    (tmp_path / "strings.json").write_text(json.dumps([{"key": key, "rounds": "1", "bytes": 1024}]))
    no_rounds = json.loads(good.read_text())
    del no_rounds["rounds"]
    (tmp_path / "no_rounds.jsonl").write_text(json.dumps(no_rounds) + "\n")
    args = {"folder": ["report", "--records", "folder"], "empty_object": ["report", "--records", "empty.jsonl"],
            "text": ["gate", "--records", "text.jsonl", "--baseline", "key.json"],
            "baseline_not_json": ["gate", "--records", "good.jsonl", "--baseline", "base.json"],
            "baseline_bad_key": ["gate", "--records", "good.jsonl", "--baseline", "key.json"],
            "baseline_folder": ["gate", "--records", "good.jsonl", "--baseline", "folder"],
            "report_out_unwritable": ["report", "--records", "good.jsonl", "--out", "/proc/secfwt-report"],
            "baseline_string_counter": ["gate", "--records", "good.jsonl", "--baseline", "strings.json"],
            "record_without_rounds": ["report", "--records", "good.jsonl", "--records", "no_rounds.jsonl"]}[case]
    if args[0] == "report" and "--out" not in args:
        args += ["--out", "out"]
    proc = subprocess.run([sys.executable, "-m", "secfwt", *args], capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("secfwt: error:"), lines
    assert not (tmp_path / "out").exists()


def test_report_warns_how_many_torn_lines_it_skipped(tmp_path):
    line = json.dumps({"workload": "op", "params": {"op": "mul", "size": 4, "seed": 0}, "provider": "ttp",
                       "world_size": 2, "status": "ok", "rounds": 1, "bytes": 1024, "offline_rounds": 1,
                       "offline_bytes": 8, "duplex_bytes": 512, "max_abs_err": 0.0, "compute_s": 0.1, "wall_s": 0.1})
    (tmp_path / "r.jsonl").write_text(line + "\n" + line[:30] + "\n" + line + "\n")
    proc = subprocess.run([sys.executable, "-m", "secfwt", "report", "--records", "r.jsonl", "--out", "out"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "skipped 1 line(s)" in proc.stderr


def test_an_internal_error_keeps_its_traceback_and_is_not_called_a_usage_error(monkeypatch):
    """Only bad input exits 2 with one line; a ValueError from inside the suite is a bug: it
    propagates with its traceback (exit 1 from the interpreter)."""
    from secfwt import cli

    def broken(args):
        raise ValueError("an internal failure")

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    parser._subparsers._group_actions[0].choices["links"].set_defaults(func=broken)
    with pytest.raises(ValueError, match="an internal failure"):
        main(["links"])


def test_a_symlink_to_a_records_file_being_written_is_the_same_file(tmp_path, capsys):
    """The --out lock is on the real file: another name for it (a symlink, ../) cannot write beside it."""
    from secfwt.results import exclusive

    real = tmp_path / "r.jsonl"
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    with exclusive(real):
        assert main(["run", "op", "--param", "size=4", "--out", str(link)]) == 2
        assert main(["run", "op", "--param", "size=4", "--out", str(tmp_path / "sub" / ".." / "r.jsonl")]) == 2
    assert "being written by another secfwt run" in capsys.readouterr().err


def test_a_dangling_symlink_as_out_is_kept(tmp_path, monkeypatch):
    """The writability probe creates and removes the link's target, never the user's link."""
    from secfwt import cli

    link = tmp_path / "link.jsonl"
    link.symlink_to(tmp_path / "target.jsonl")
    cli._check_writable(link)
    assert link.is_symlink() and not (tmp_path / "target.jsonl").exists()


@pytest.mark.parametrize("argv, env, message", [
    (["run", "op", "--protocol-seed", str(2**70)], {}, "protocol seed"),
    (["run", "op"], {"SECFWT_PROTOCOL_SEED": "abc"}, "protocol seed"),
    (["run", "op"], {"SECFWT_STALL_S": "abc"}, "SECFWT_STALL_S"),
    (["run", "op"], {"SECFWT_JOIN_TIMEOUT_S": "-5"}, "SECFWT_JOIN_TIMEOUT_S"),
    (["party", "op", "--rank", "0", "--master", "127.0.0.1:99999"], {}, "--master"),
    (["party", "op", "--rank", "0", "--master", "127.0.0.1"], {}, "--master"),
    (["party", "op", "--rank", "0", "--master", "127.0.0.1:http"], {}, "--master"),
])
def test_bad_seeds_environment_and_master_are_one_line_exit_2_before_any_process(argv, env, message, monkeypatch,
                                                                                 capsys):
    import subprocess as sp

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(sp, "Popen", lambda *a, **k: pytest.fail("started a process"))
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_gate_write_to_an_unwritable_baseline_is_one_line_exit_2(tmp_path, capsys):
    records = tmp_path / "r.jsonl"
    records.write_text(json.dumps({"workload": "op", "params": {"op": "mul"}, "provider": "ttp", "world_size": 2,
                                   "status": "ok", "rounds": 1, "bytes": 8}) + "\n")
    assert main(["gate", "--records", str(records), "--baseline", str(tmp_path), "--write"]) == 2
    assert main(["gate", "--records", str(records), "--baseline", "/proc/x.json", "--write"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("secfwt: error: --baseline") for line in err)


def test_a_party_whose_peer_dies_mid_run_says_so_in_one_line(monkeypatch, capsys):
    from secfwt.mpc import parties

    def lost(*args, **kwargs):
        raise RuntimeError("[gloo/transport/tcp/pair.cc:553] Connection closed by peer [127.0.0.1]:4242. This is "
                           "typically caused by a remote worker crashing.")

    monkeypatch.setattr(parties, "party_main", lost)
    assert main(["party", "op", "--rank", "0", "--master", "127.0.0.1:1"]) == 1
    assert capsys.readouterr().err.strip().splitlines() == [
        "secfwt: error: rank 0: a peer went away mid-run (Connection closed by peer [127.0.0.1]:4242); see that "
        "party's output"]

    def bug(*args, **kwargs):
        raise RuntimeError("an internal error")

    monkeypatch.setattr(parties, "party_main", bug)
    with pytest.raises(RuntimeError, match="internal"):  # not a peer's fault: the traceback stays
        main(["party", "op", "--rank", "0", "--master", "127.0.0.1:1"])


def test_party_mode_without_a_token_is_refused_unless_explicitly_insecure(monkeypatch, capsys):
    """No SECFWT_RUN_TOKEN anywhere: a party would compute unauthenticated; it is refused in one line
    (exit 2) before anything starts, and runs only with --insecure-no-token, which says so."""
    from secfwt.mpc import parties

    monkeypatch.delenv("SECFWT_RUN_TOKEN")
    started = []
    monkeypatch.setattr(parties, "party_main", lambda *a, **k: started.append(1) or [])
    assert main(["party", "op", "--rank", "1", "--master", "127.0.0.1:1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "needs SECFWT_RUN_TOKEN" in err[0] and not started
    monkeypatch.setenv("SECFWT_RUN_TOKEN", "")  # empty is no token either
    assert main(["party", "op", "--rank", "1", "--master", "127.0.0.1:1"]) == 2 and not started
    capsys.readouterr()
    assert main(["party", "op", "--rank", "1", "--master", "127.0.0.1:1", "--insecure-no-token"]) == 0
    assert started == [1] and "warning: no SECFWT_RUN_TOKEN" in capsys.readouterr().err


def test_party_mode_edge_cases_are_one_line_exit_2(capsys):
    """The dealer's rank under TFP (which has no dealer) is refused before anything starts."""
    assert main(["party", "op", "--rank", "2", "--world-size", "2", "--provider", "tfp",
                 "--master", "127.0.0.1:1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "tfp has no dealer" in err[0]


@pytest.mark.cold
def test_parties_started_with_different_world_sizes_end_in_one_line_each():
    """Rank 0 says world size 3, party 1 and the dealer say 2: the rendezvous cannot agree; every
    process ends with one line and exit 2 (or 1 for a join timeout), never a traceback."""
    from secfwt.mpc.parties import free_port

    master = f"127.0.0.1:{free_port()}"
    base = [sys.executable, "-m", "secfwt", "party", "op", "--master", master, "--param", "size=4",
            "--join-timeout", "10"]
    procs = []
    for r, ws in ((0, 3), (1, 2), (2, 2)):
        if r == 2:
            time.sleep(4)  # the dealer comes late: rank 0's store is gone before its own join deadline
        procs.append(subprocess.Popen(base + ["--rank", str(r), "--world-size", str(ws)], stdout=subprocess.DEVNULL,
                                      stderr=subprocess.PIPE, text=True))
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode in (1, 2) and "Traceback" not in err, err
        assert err.strip().splitlines()[-1].startswith("secfwt: error:"), err


@pytest.mark.parametrize("config, message", [
    ({"model_type": "bert", "hidden_size": -3, "num_attention_heads": 0}, "hidden_size=-3, num_attention_heads=0"),
    ({"model_type": "bert", "num_hidden_layers": 0}, "num_hidden_layers=0"),
    ({"model_type": "bert", "intermediate_size": "wide"}, "intermediate_size='wide'"),
    ({"model_type": "roberta", "hidden_size": 100, "num_attention_heads": 3}, "not a multiple of num_attention_heads"),
    ({"model_type": "bert", "hidden_size": 100}, "num_attention_heads 12"),  # the type's default heads
])
def test_impossible_model_sizes_and_huge_seeds_are_one_line_exit_2_before_any_process(config, message, tmp_path,
                                                                                     monkeypatch, capsys):
    import subprocess as sp

    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    monkeypatch.setattr(sp, "Popen", lambda *a, **k: pytest.fail("started a process"))
    assert main(["run", "step", "--param", f"model={path}", "--param", "seq=16"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert main(["run", "op", "--param", "seed=" + "1" + "0" * 29]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "seed: must be at most 4294967295" in err[0], err


def test_a_profiles_consecutive_plaintext_sweeps_share_one_pool(monkeypatch, tmp_path):
    """`bench` runs consecutive plaintext sweeps of one workload as one grid list: with --jobs 2, the
    third point (the next sweep's) starts while the second still runs, instead of a core idling through
    a sweep's last point.  MPC sweeps, and a plaintext sweep after one, stay their own calls; records
    are written in the sweeps' order."""
    import argparse

    import secfwt.report
    from secfwt import cli, runner
    from secfwt.links import parse_links
    from secfwt.profiles import Sweep

    pools = []

    def parallel(workload, todo, links, jobs, checkpoint):  # the worker pool, without the workers
        pools.append([p["seed"] for _, p in todo])
        for i, p in reversed(todo):  # finishing out of order
            yield i, {"workload": workload, "params": p, "provider": "plaintext", "world_size": 0, "status": "ok"}

    monkeypatch.setattr(runner, "_run_parallel", parallel)
    monkeypatch.setattr(secfwt.report, "write_report", lambda *a, **kw: [])
    tune = {"task": ["sst2"], "method": ["fot"], "budget": [2], "population": [2]}
    sweeps = [Sweep("tune", {**tune, "seed": [13, 21]}), Sweep("tune", {**tune, "seed": [42], "attention": ["rfa-onepass"]}),
              Sweep("op", {"op": ["mul"], "size": [16]}), Sweep("tune", {**tune, "seed": [87, 100]})]
    batches = cli._batches(sweeps, [None] * len(sweeps))
    assert [(w, len(grids)) for w, grids, _ in batches] == [("tune", 2), ("op", 1), ("tune", 1)]
    assert runner.grid_names(batches[0][1]) == ["task", "method", "budget", "population", "seed", "attention"]
    args = argparse.Namespace(resume=False, emulate=None, provider="ttp", no_progress=True, jobs=2, keep_stale=False,
                              report_dir=tmp_path / "report", executor="local", scheduler=None, workers=None,
                              cold=False, parties=None)
    final = tmp_path / "records" / "p.jsonl"
    final.parent.mkdir()
    plaintext_only = {"links": ["lan"], "sweeps": [sweeps[0], sweeps[1], sweeps[3]]}  # three consecutive sweeps
    assert cli._bench(args, plaintext_only, parse_links(["lan"]), final, final.with_name("p.jsonl.partial")) == 0
    assert pools == [[13, 21, 42, 87, 100]]
    records = Store(final).load()
    assert [r["params"]["seed"] for r in records] == [13, 21, 42, 87, 100]
    assert records[2]["params"]["attention"] == "rfa-onepass" and records[0]["params"]["attention"] != "rfa-onepass"


def test_a_run_finished_while_an_earlier_one_ran_survives_a_killed_launcher(tmp_path, monkeypatch):
    """A worker finishes point 1 while point 0 still runs; its record waits for grid order, and its
    state is gone.  The launcher is then killed outright (no handler runs): the record the worker left
    beside the state is taken on the rerun, which runs point 0 only and writes both in grid order.
    A point repeated by a second grid runs once."""
    from secfwt import runner
    from secfwt.links import parse_links
    from secfwt.results import record_key

    links = parse_links(["lan"])
    store = Store(tmp_path / "r.jsonl")
    identity = runner.stored_identity("tune", "ttp", 2)

    def checkpoint(p):
        return runner.checkpoint_path(store, record_key("tune", p, *identity, None))

    def record(p):
        return {"workload": "tune", "params": p, "provider": "plaintext", "world_size": 0, "status": "ok",
                "trajectory": []}

    monkeypatch.setattr(runner, "run_one", lambda w, p, links, **kw: record(p))
    small = {"task": ["sst2"], "method": ["fot"], "budget": [2], "population": [2]}
    grids = [{**small, "seed": [13, 21]}, {**small, "seed": [21]}]
    todo = runner.expand_grid("tune", grids)
    runner._run_point((1, "tune", todo[1], links, checkpoint(todo[1])))  # the worker's side, then the kill
    assert Path(checkpoint(todo[1]) + runner.FINISHED_SUFFIX).exists()
    asked = []

    def parallel(workload, points, links, jobs, ck):
        asked.append([p["seed"] for _, p in points])
        for i, p in points:
            yield i, record(p)

    monkeypatch.setattr(runner, "_run_parallel", parallel)
    monkeypatch.setattr(runner, "run_one", lambda w, p, links, **kw: asked.append([p["seed"]]) or record(p))
    out = list(runner.run_grid("tune", grids, links, store=store, jobs=2, progress=False))
    assert asked == [[13]] and [r["params"]["seed"] for r in out] == [13, 21]
    assert [r["params"]["seed"] for r in store.load()] == [13, 21]
    assert not Path(checkpoint(todo[1]) + runner.FINISHED_SUFFIX).exists()
