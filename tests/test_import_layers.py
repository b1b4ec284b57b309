"""The import contracts in pyproject.toml (``make lint`` runs them): they hold for the package, and
they fail when a forbidden import is added (a report module reaching into the MPC layer, a cycle)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = str(Path(sys.executable).with_name("lint-imports"))


def _lint(tree: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(tree)}  # the copy's secfwt, not the installed one
    return subprocess.run([LINT, "--no-cache", str(tree / "pyproject.toml")], cwd=tree, env=env,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture()
def tree(tmp_path):
    shutil.copytree(ROOT / "secfwt", tmp_path / "secfwt", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    return tmp_path


def test_the_package_keeps_every_contract():
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 kept, 0 broken" in done.stdout


def test_a_report_module_that_imports_mpc_fails_lint(tree):
    frame = tree / "secfwt" / "report" / "frame.py"
    frame.write_text(frame.read_text() + "\nfrom ..mpc import ring  # noqa: E402,F401\n")
    done = _lint(tree)
    assert done.returncode != 0
    assert "the report never imports mpc (it reads records, not protocols) BROKEN" in done.stdout
    assert "secfwt.report.frame -> secfwt.mpc.ring" in done.stdout


def test_an_import_cycle_and_an_upward_import_fail_lint(tree):
    """The data owner importing the launcher again (the cycle the process split removed), and the
    MPC layer importing the encoder."""
    owner = tree / "secfwt" / "mpc" / "owner.py"
    owner.write_text(owner.read_text() + "\nfrom . import parties  # noqa: E402,F401\n")
    cosine = tree / "secfwt" / "mpc" / "cosine.py"
    cosine.write_text(cosine.read_text() + "\nfrom ..nn import encoder  # noqa: E402,F401\n")
    done = _lint(tree)
    assert done.returncode != 0
    assert "no import cycles, at any level of the package BROKEN" in done.stdout
    assert "layers: mpc < nn < tuning < workloads < runner < executors < cli BROKEN" in done.stdout


def test_the_paper_defaults_are_typed_only_in_the_registry():
    """Each protocol setting's paper choice is spelled once, in secfwt/variants.py: parameters, record
    backfill, labels and report filters read it from there (issue 26; a report filter that typed
    "fresh" again was caught by this)."""
    from secfwt.variants import SETTINGS

    root = Path(__file__).resolve().parents[1] / "secfwt"
    defaults = {s.default for s in SETTINGS.values()} - {"crypten"}  # also the library's name
    typed = [(path.relative_to(root).as_posix(), name) for path in sorted(root.rglob("*.py"))
             if path.name != "variants.py" for name in defaults if f'"{name}"' in path.read_text()]
    assert typed == [], typed
