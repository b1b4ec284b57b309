"""The workload modules' declarations: the code a record's digest covers, the check fields and the
scope names each workload declares (a record holds nothing its workload did not announce)."""

from __future__ import annotations

import json
from pathlib import Path

import grimp
import pytest

from secfwt import workloads
from secfwt.mpc.parties import PartyError, Task, run_parties
from secfwt.results import Record, aggregate_layers

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "secfwt"


def _module_path(module: str) -> str:
    """A secfwt module's file, relative to the package (``nn/encoder.py``, ``mpc/__init__.py``)."""
    parts = module.split(".")[1:]
    folder = PACKAGE.joinpath(*parts)
    return (folder / "__init__.py" if folder.is_dir() else folder.with_suffix(".py")).relative_to(PACKAGE).as_posix()


def _covered(path: str, entries) -> bool:
    return any(path == e or path.startswith(e.rstrip("/") + "/") for e in entries)


@pytest.fixture(scope="module")
def graph():
    return grimp.build_graph("secfwt", cache_dir=None)


@pytest.mark.parametrize("name", list(workloads.REGISTRY))
def test_a_records_code_digest_covers_every_module_its_workload_imports(graph, name):
    """``code_version`` digests the files in ``Workload.code``: a module the workload's code imports
    (its party functions, its data owner, what they call) that the digest leaves out would let a
    resumed sweep reuse records of other code without a word.  Modules its results do not depend on
    are named in ``code_ignores``, each with its reason.  grimp sees every import statement, also
    inside functions, but not modules loaded by name (a registry Option's ``module``, CrypTen's
    protocol modules in ``mpc.install_protocols``): ``nn`` and ``mpc`` are digested whole for that."""
    wl = workloads.get(name)
    roots = {f.__module__ for f in (wl.setup, wl.run, wl.check, wl.owner) if f is not None}
    modules = set(roots)
    for root in roots:
        modules |= {m for m in graph.find_upstream_modules(root) if m.startswith("secfwt.")}
    modules -= {"secfwt"}  # the package's own __init__: its docstring and version
    files = {_module_path(m) for m in modules}
    assert _module_path(f"secfwt.workloads.{name.replace('-', '_')}") in files  # the workload's own module
    missed = sorted(f for f in files if not _covered(f, wl.code) and not _covered(f, wl.code_ignores))
    assert not missed, f"{name}: imports {missed}, which its records' code_version does not cover"
    assert all(reason for reason in wl.code_ignores.values())


def test_the_digest_check_sees_a_module_left_out(graph):
    """The check above can fail: the step workload without errors.py in its code misses it."""
    wl = workloads.get("step")
    files = {_module_path(m) for m in graph.find_upstream_modules("secfwt.workloads.step") if m != "secfwt"}
    assert "errors.py" in files
    assert not _covered("errors.py", tuple(e for e in wl.code if e != "errors.py"))


def _committed_records():
    for path in sorted((ROOT / "reports" / "records").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if line.strip():
                yield path.name, json.loads(line)


def test_every_committed_records_checks_and_scopes_are_declared_by_its_workload():
    """What real runs returned (every committed record that lists its check fields) is what the
    workloads declare: the report's columns come from these declarations' fields."""
    seen = {name: set() for name in workloads.REGISTRY}
    for file, r in _committed_records():
        if r.get("status") == "error" or r["workload"] not in seen:
            continue
        wl = workloads.get(r["workload"])
        typed = Record.from_json(r)
        if typed.check_fields is not None:
            assert set(typed.check_fields) <= set(wl.checks), (file, set(typed.check_fields) - set(wl.checks))
            seen[wl.name] |= set(typed.check_fields)
        top = {p.split(".", 1)[0] for p in aggregate_layers(r.get("scopes") or {}) if p}
        assert top <= set(wl.scopes), (file, wl.name, top - set(wl.scopes))
    unchecked = [n for n, wl in workloads.REGISTRY.items() if not wl.plaintext and "max_abs_err" not in seen[n]]
    assert not unchecked, f"no committed record of {unchecked} holds a check: run each once into reports/records"


def test_an_undeclared_check_field_or_scope_is_refused_by_name():
    wl = workloads.get("op")
    assert wl.declared_checks({"max_abs_err": 0.1}) == {"max_abs_err": 0.1}
    with pytest.raises(ValueError, match="check field.*surprise.*does not declare"):
        wl.declared_checks({"max_abs_err": 0.1, "surprise": 1})
    assert workloads.get("block").declared_scopes({"": {}, "forward": {}, "forward.layers": {}})
    with pytest.raises(ValueError, match="scope.*extra"):
        workloads.get("block").declared_scopes({"": {}, "forward": {}, "extra.inner": {}})


@pytest.mark.parties
@pytest.mark.parametrize("where", ["check", "scope"])
def test_a_party_whose_workload_returns_an_undeclared_field_fails_naming_it(where):
    """runner.measure refuses it in the party: the run fails, and no record holds the field."""
    with pytest.raises(PartyError, match=f"undeclared_{where}"):
        run_parties(Task("party_tasks:measure_with_extra", {"field": f"undeclared_{where}", "value": 1.0,
                                                            "where": where}), timeout=300)
    # the same task with the field declared away is a normal run (the failure is the declaration's)
    out = run_parties(Task("party_tasks:measure_with_extra", {"field": "max_abs_err", "value": 0.0,
                                                              "where": "check"}), timeout=300)
    assert out[0]["checks"] == {"max_abs_err": 0.0, "mean_abs_err": out[0]["checks"]["mean_abs_err"]}


def test_the_report_shows_a_new_check_field_and_a_new_scope_without_being_told():
    """The two traps of a workload added before its module declared them: a check field or a phase
    the report's code did not list was silently left out of its frame."""
    from secfwt.report import records_frame

    record = Record(workload="op", params={"op": "mul", "size": 4, "seed": 0}, provider="ttp", world_size=2,
                    status="ok", rounds=3, bytes=96, check_fields=["max_abs_err", "novel_err"],
                    scopes={"": {"rounds": 3, "bytes": 96}, "novel_phase": {"rounds": 2, "bytes": 64},
                            "novel_phase.inner": {"rounds": 1, "bytes": 32}},
                    results={"max_abs_err": 0.001, "novel_err": 0.25, "trajectory": [1, 2]}).to_json()
    row = records_frame([record]).iloc[0]
    assert row["novel_err"] == 0.25 and row["max_abs_err"] == 0.001
    assert (row["novel_phase_rounds"], row["novel_phase_bytes"]) == (2, 64)
    assert "trajectory" not in row and "novel_phase.inner_rounds" not in row  # lists and inner scopes: no columns


def test_the_tune_workloads_defaults_are_the_tuning_runs_defaults():
    """One home for a run's defaults (they had drifted: budget 25 here, 30 in TuneConfig)."""
    from secfwt.tuning.config import TuneConfig
    from secfwt.workloads.tune import CONFIG_FIELDS

    resolved = workloads.get("tune").resolve({})
    assert TuneConfig(**{k: resolved[k] for k in CONFIG_FIELDS}) == TuneConfig()
    assert set(CONFIG_FIELDS) <= {p.name for p in workloads.get("tune").params}


def test_a_workloads_own_modules_are_in_its_code_and_not_in_the_others():
    """Adding or editing one workload leaves the other workloads' records current (the digest of
    the shared measuring code does not hold the workloads folder)."""
    gelu, op = workloads.get("gelu"), workloads.get("op")
    assert {"workloads/gelu.py", "workloads/trig.py", "workloads/base.py"} <= set(gelu.code)  # its setup is trig's
    assert "workloads/gelu.py" not in op.code and "workloads" not in op.code
    assert not any(e.startswith("workloads/") and e not in ("workloads/base.py", "workloads/op.py") for e in op.code)


def test_a_workload_whose_names_would_overwrite_the_records_own_fields_is_refused():
    from secfwt.workloads.op import check, run, setup

    with pytest.raises(ValueError, match="offline_rounds"):  # a scope "offline": offline_rounds...
        workloads.Workload("x", "", (), setup, run, check, 1.0, scopes=("offline",))
    with pytest.raises(ValueError, match="rounds"):
        workloads.Workload("x", "", (), setup, run, check, 1.0, checks=("max_abs_err", "rounds"))
    assert workloads.get("fot-mpc").checks[-4:] == workloads.base.OWNER_CHECKS  # added where there is an owner


def test_a_report_of_a_workload_whose_runs_all_failed_still_has_its_check_columns(tmp_path):
    """An error record lists the checks its workload declares: the table of a workload whose every
    run failed is written, with empty checks (found by review: it raised 'records lack column(s)')."""
    from secfwt.links import parse_links
    from secfwt.report import write_report
    from secfwt.runner import error_record

    ok = Record(workload="op", params=workloads.get("op").resolve({}), provider="ttp", world_size=2, status="ok",
                rounds=1, bytes=8, offline_rounds=0, offline_bytes=0, duplex_bytes=4, compute_s=0.0, wall_s=0.0,
                est_s={}, tolerance=1e-2, check_fields=["max_abs_err", "mean_abs_err"], scopes={"": {"rounds": 1}},
                results={"max_abs_err": 0.0, "mean_abs_err": 0.0}).to_json()
    failed = error_record("layernorm", {}, "ttp", 2, parse_links(["lan"]), "killed")
    assert failed["check_fields"] == ["max_abs_err", "max_rel_err"] and "max_rel_err" not in failed
    path = tmp_path / "records.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in (ok, failed)) + "\n")
    written = write_report([path], tmp_path / "report")
    assert any(Path(p).name == "README.md" for p in written)


def test_a_window_of_test_rows_is_the_rows_at_its_offset_and_windows_add_up_in_the_report():
    """fot-mpc's test_offset (the agreement profile's windows): the data owner reads rows
    [offset, offset + test_rows); the report adds the windows of one run up, sentence-weighted."""
    import pandas as pd

    from secfwt import data
    from secfwt.nn import encoder as enc
    from secfwt.report.accuracy import windowed_agreement_lines
    from secfwt.results import record_key
    from secfwt.tuning.mpc_fot import _batches

    wl = workloads.get("fot-mpc")
    p = wl.resolve({"task": "sst2", "test_rows": 3, "test_offset": 7, "seq": 52})
    tok = enc.minilm_tokenizer()
    got = _batches(p, tok)["test"]
    rows = data.load("sst2", "test", 13)[7:10]
    want = enc.text_batch(tok, data.texts(rows), [r["label"] for r in rows], 48, prompt_tokens=4, pad_to=52)
    assert got.input_ids.equal(want.input_ids) and got.labels.tolist() == [r["label"] for r in rows]
    first = _batches({**p, "test_offset": 0}, tok)["test"]
    assert not first.input_ids.equal(got.input_ids)  # another window, other sentences
    # a record from before the parameter is the offset-0 window
    assert record_key("fot-mpc", {**p, "test_offset": 0}, "ttp", 2) == \
        record_key("fot-mpc", {k: v for k, v in p.items() if k != "test_offset"}, "ttp", 2)

    run = {"task": "sst2", "attention": "softmax-lookup", "truncation": "secureml", "layers": -1, "generations": 1,
           "population": 2, "train_rows": 2, "seq": 52, "test_rows": 50}
    parity = pd.DataFrame([{**run, "test_offset": o, "test_agreement": a, "loss_max_abs_err": e,
                            "test_logits_max_abs_err": t, "plaintext_openings": 0,
                            "differing_wrapped": float("nan"), "differing_on_boundary": float("nan")}
                           for o, a, e, t in ((0, 1.0, 0.004, 0.02), (50, 0.98, 0.006, 0.03), (100, 0.96, 0.002, 0.01))])
    (line, _) = windowed_agreement_lines(parity)
    assert "**147 of 150**" in line and "98.0%" in line and "rows 0-149 (consecutive)" in line and "0.006" in line
    assert "largest test-logit difference 0.03." in line and "truncation failure" not in line
    assert windowed_agreement_lines(parity.iloc[:1]) == []  # one window is no sum
    # a window overlapping one already counted is left out: no sentence counts twice
    overlapping = pd.concat([parity, parity.iloc[[0]].assign(test_offset=25, test_agreement=0.0)])
    assert windowed_agreement_lines(overlapping) == [line, ""]
    # a window whose test logit met a two-party truncation failure says so
    parity.loc[1, "test_logits_max_abs_err"] = 1.9e9
    (line, _) = windowed_agreement_lines(parity)
    assert "1 of its windows met a truncation failure in a test logit (largest difference 1.9e+09)" in line
    assert "predicted differently" not in line  # records from before the owner named them
    parity["differing_wrapped"], parity["differing_on_boundary"] = [0, 1, 0], [0, 0, 2]
    (line, _) = windowed_agreement_lines(parity)
    assert "of the 3 sentences predicted differently, 1 met a truncation failure and 2 lie on the decision " \
        "boundary" in line


def test_the_owner_names_each_test_sentence_predicted_differently_with_its_margin_and_error():
    """compare_test_logits: agreement from the predictions, and per differing sentence its test row
    (offset included), the exact model's margin and the largest logit difference."""
    import torch

    from secfwt.tuning.mpc_fot import compare_test_logits

    want = torch.tensor([[2.0, 1.0], [0.50, 0.49], [0.0, 3.0], [1.0, -1.0]])
    got = want + torch.tensor([[0.01, 0.0], [-0.02, 0.0], [0.0, 0.0], [-3e9, 0.0]])
    out = compare_test_logits(got, want, offset=100)
    assert out["test_agreement"] == pytest.approx(0.5)
    assert out["test_logits_max_abs_err"] == pytest.approx(3e9)
    [boundary, wrapped] = out["test_disagreements"]
    assert boundary["row"] == 101 and boundary["exact_margin"] == pytest.approx(0.01)
    assert boundary["logit_err"] == pytest.approx(0.02)
    assert wrapped["row"] == 103 and wrapped["exact_margin"] == pytest.approx(2.0) and wrapped["logit_err"] > 1e9
    assert compare_test_logits(want, want)["test_disagreements"] == []
    # the report sorts them: truncation failures, sentences on the boundary, and the rest
    from secfwt.report.accuracy import _differing

    far = {"row": 7, "exact_margin": 0.5, "logit_err": 0.01}  # neither: the approximation moved it
    assert _differing(out["test_disagreements"] + [far]) == {"differing_wrapped": 1, "differing_on_boundary": 1}
