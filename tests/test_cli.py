"""The command line: listings, bad input (exit 2, nothing written), resumable sweeps."""

import json
import subprocess
import sys

import pytest

from secfwt.cli import main
from secfwt.results import Store


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
    assert got == [{"name": "lan", "bandwidth_bps": 3e9, "latency_s": 0.0008},
                   {"name": "wan200", "bandwidth_bps": 2e8, "latency_s": 0.04},
                   {"name": "wan100", "bandwidth_bps": 1e8, "latency_s": 0.08}]


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
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, args, needle):
    out = tmp_path / "records.jsonl"
    proc = secfwt(*args, "--out", str(out)) if args[0] == "run" else secfwt(*args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0]
    assert proc.stdout == ""
    assert not out.exists()


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


def test_csv_and_table_formats():
    proc = secfwt("run", "op", "--param", "size=4", "--format", "csv", "--links", "lan,1gbit:10ms")
    assert proc.returncode == 0, proc.stderr
    header = proc.stdout.splitlines()[0].split(",")
    assert {"workload", "rounds", "bytes", "est_s_lan", "est_s_1gbit:10ms", "provider"} <= set(header)
