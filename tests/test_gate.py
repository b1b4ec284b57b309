"""The count gate: deterministic counts of a profile against the committed baseline."""

import json
import subprocess
import sys

from synthetic import rec

from secfwt import baseline


def test_gate_passes_on_equal_counts_and_names_what_moved():
    base = baseline.counts([rec(), rec(params={"op": "matmul", "size": 16, "seed": 0})])
    assert baseline.compare(base, base) == []
    moved = baseline.counts([rec(nbytes=9000), rec(params={"op": "softmax", "size": 16, "seed": 0})])
    lines = baseline.compare(moved, base)
    assert any(line.startswith("bytes") and "op [op=mul size=16]" in line and "8,192 -> 9,000" in line
               and "+808" in line and "+9.86%" in line for line in lines), lines
    assert any(line.startswith("missing now") and "op=matmul" in line for line in lines)
    assert any(line.startswith("new") and "op=softmax" in line for line in lines)


def test_gate_cli_fails_with_a_readable_diff(tmp_path):
    records, base = tmp_path / "r.jsonl", tmp_path / "b.json"
    records.write_text(json.dumps(rec()) + "\n")
    run = lambda *a: subprocess.run([sys.executable, "-m", "secfwt", "gate", "--records", str(records),
                                     "--baseline", str(base), *a], capture_output=True, text=True)
    assert run("--write").returncode == 0
    assert run().returncode == 0
    records.write_text(json.dumps(rec(nbytes=16384)) + "\n")  # a change that doubles the bytes
    proc = run()
    assert proc.returncode == 1
    assert "bytes" in proc.stderr and "op [op=mul size=16] provider=ttp: 8,192 -> 16,384 (+8,192, +100.00%)" in proc.stderr


