"""Every audit action the code records has a human label in English and Korean, and pages
show labels, never the codes (cases.kernel.audit.labels)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.utils import translation

from cases.evidence.models import CustodyAction
from cases.kernel.audit.labels import ACTION_LABELS, action_label
from cases.kernel.jobs import job_types
from cases.notices.services.outcomes import CLOSING

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["cases", "detection", "reports"]
LITERAL = re.compile(r"""["']([a-z][a-z_]*\.[a-z][a-z_]*)["']""")
# Dotted literals in files that record audit events which are not actions.
NOT_ACTIONS = {
    "aurora.dave",
    "dossier.pdf",
    "hyun.admin",
    "manifest.json",
    "manifest.jsonl",
    "minji.legal",
    "packet.zip",
    "platform.name",
    "t.me",
    "telegram.me",
    "weasyprint.progress",
    "yuna.admin",
}
JOB_VERBS = re.compile(r'_audit\(\w+, verb="([a-z_]+)"')


def _literal_actions() -> set[str]:
    """Every dotted string literal in a module that records audit events."""
    found: set[str] = set()
    for top in SOURCES:
        for path in (ROOT / top).rglob("*.py"):
            if "migrations" in path.parts or path.name == "labels.py":
                continue
            text = path.read_text()
            if "audit" not in text:
                continue
            found |= set(LITERAL.findall(text))
    return found - NOT_ACTIONS


def _built_actions() -> set[str]:
    """Actions put together at run time: job lifecycle verbs, notice outcomes, custody."""
    verbs = set(JOB_VERBS.findall((ROOT / "cases/kernel/jobs.py").read_text()))
    assert verbs >= {"failed", "requeued", "retried"}
    jobs = {f"{model.job_audit_prefix}.{verb}" for model in job_types() for verb in verbs}
    outcomes = {f"notice.{outcome}" for outcome in CLOSING}
    custody = {f"evidence.{value}" for value in CustodyAction.values}
    return jobs | outcomes | custody


def every_action() -> set[str]:
    return _literal_actions() | _built_actions()


def test_the_scan_finds_the_actions_it_should() -> None:
    # The contrary case: the scan is not vacuous; it sees literals, constants and built ones.
    actions = every_action()
    assert {"finding.artists_linked", "notice.created", "two_factor.enabled"} <= actions
    assert {"dossier.failed", "capture.requeued", "notice.no_response"} <= actions
    assert {"evidence.revealed", "notice.reclassified_awaiting_submission"} <= actions
    assert not NOT_ACTIONS & actions


@pytest.mark.parametrize("language", ["en", "ko"])
def test_every_recorded_action_has_a_label(language: str) -> None:
    missing = sorted(every_action() - set(ACTION_LABELS))
    assert missing == [], (
        f"audit actions without a label in cases/kernel/audit/labels.py: {missing}"
    )
    with translation.override(language):
        for action in every_action():
            label = action_label(action)
            assert label and label != action and "." not in label.split()[0], action
            if language == "ko":
                # Translated: Hangul in the label, not the English words.
                assert re.search(r"[\uac00-\ud7a3]", label), (action, label)


def test_an_action_without_a_label_still_reads_as_words() -> None:
    assert action_label("finding.something_new") == "Finding: something new"
