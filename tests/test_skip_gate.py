"""The CI skip gate (scripts/skip_gate.py): a skipped test not in the allow-list fails the
run; listed skips pass, and the output names every skip."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "skip_gate.py"
_spec = importlib.util.spec_from_file_location("skip_gate", SCRIPT)
assert _spec and _spec.loader
skip_gate = importlib.util.module_from_spec(_spec)
sys.modules["skip_gate"] = skip_gate  # dataclasses look their module up there
_spec.loader.exec_module(skip_gate)

# JUnit XML as pytest writes it: one passed, one skipped with a reason, one class method
# skipped, one xfail.
RESULTS = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="0" failures="0" skipped="3" tests="4">
  <testcase classname="tests.cases.test_audit" name="test_it_works" time="0.1"/>
  <testcase classname="tests.cases.test_audit" name="test_triggers[delete]" time="0.0">
    <skipped type="pytest.skip" message="needs PostgreSQL">needs PostgreSQL</skipped>
  </testcase>
  <testcase classname="tests.cases.test_audit.TestChain" name="test_chain" time="0.0">
    <skipped type="pytest.skip" message="no Redis">no Redis</skipped>
  </testcase>
  <testcase classname="tests.cases.test_audit" name="test_known_bug" time="0.0">
    <skipped type="pytest.xfail" message="bug 12" />
  </testcase>
</testsuite></testsuites>
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A project root with the test module the XML names, and its results folder."""
    (tmp_path / "tests" / "cases").mkdir(parents=True)
    (tmp_path / "tests" / "cases" / "test_audit.py").write_text("")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "unit.xml").write_text(RESULTS)
    return tmp_path


def _gate(tree: Path, allowed: str) -> int:
    (tree / "allowed.txt").write_text(allowed)
    return skip_gate.main(
        [
            "--results",
            str(tree / "results"),
            "--allowed",
            str(tree / "allowed.txt"),
            "--root",
            str(tree),
        ]
    )


ALL_LISTED = """# comment
tests/cases/test_audit.py::test_triggers[delete]  # PostgreSQL only
tests/cases/test_audit.py::TestChain::*  # Redis only
tests/cases/test_audit.py::test_known_bug  # bug 12
"""


def test_an_unlisted_skip_fails_the_gate_and_is_named(tree, capsys):
    allowed = "tests/cases/test_audit.py::test_triggers[delete]  # PostgreSQL only\n"
    assert _gate(tree, allowed) == 1
    out = capsys.readouterr().out
    assert "skipped tests: 3" in out
    assert "NOT ALLOWED  tests/cases/test_audit.py::TestChain::test_chain: no Redis" in out
    assert "NOT ALLOWED  tests/cases/test_audit.py::test_known_bug: xfail: bug 12" in out
    assert "allowed      tests/cases/test_audit.py::test_triggers[delete]" in out
    assert "FAILED, 2 skipped test(s)" in out


def test_only_listed_skips_pass_the_gate(tree, capsys):
    assert _gate(tree, ALL_LISTED) == 0
    out = capsys.readouterr().out
    assert "skipped tests: 3" in out and "NOT ALLOWED" not in out and "skip gate: ok" in out


def test_an_empty_allow_list_fails_on_any_skip(tree):
    assert _gate(tree, "# nothing may skip\n") == 1


def test_a_run_without_skips_passes_with_an_empty_allow_list(tree, capsys):
    (tree / "results" / "unit.xml").write_text(
        '<testsuites><testsuite tests="1"><testcase classname="tests.cases.test_audit" '
        'name="test_it_works"/></testsuite></testsuites>'
    )
    assert _gate(tree, "") == 0
    assert "skipped tests: 0" in capsys.readouterr().out


def test_brackets_in_an_entry_are_literal_not_a_character_class(tree):
    allowed = ALL_LISTED.replace("test_triggers[delete]", "test_triggers[d]")
    assert _gate(tree, allowed) == 1


def test_an_entry_without_its_reason_is_an_error(tree, capsys):
    assert _gate(tree, "tests/cases/test_audit.py::*\n") == 2
    assert "no '# reason'" in capsys.readouterr().out


def test_no_results_is_an_error_not_a_pass(tree, capsys):
    (tree / "results" / "unit.xml").unlink()
    assert _gate(tree, ALL_LISTED) == 2
    assert "no test results" in capsys.readouterr().out


def test_the_repository_allow_list_parses():
    skip_gate.allow_list(SCRIPT.parents[1] / "tests" / "skips-allowed.txt")
