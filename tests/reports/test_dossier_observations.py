"""What each capture attempt observed, how the page behaved and what its web archive is,
as the dossier and the manifest say it, each statement against its contrary case.

Captures are built in the database (their record, observation and browser notes as the
capture pipeline writes them) rather than run through Chromium; only the unreachable
attempt is a real run, against a host that does not resolve."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from cases.evidence.capture.observation import Observation
from cases.evidence.models import Capture, EvidenceKind
from cases.evidence.services.evidence import evidence_ingest
from cases.intake.models import Finding, FindingStatus
from cases.intake.services.findings import finding_set_status
from tests.reports.test_dossier_statements import (
    DONE_AT,
    build,
    case_of,
    chapter,
    done_capture,
    failed_capture,
    finding,
    flat,
    pdf_text,
    quiet_capture,  # noqa: F401  (a fixture, used by name)
    unpack,
)

UNREACHABLE_TEXT = (
    "Unreachable: Host name could not be resolved — this says nothing about whether the "
    "content was removed"
)


def observed(capture: Capture, observation: str, reason: str, at: Any) -> Capture:
    Capture.objects.filter(pk=capture.pk).update(
        observation=observation, observation_reason=reason, observed_at=at
    )
    capture.refresh_from_db()
    return capture


def removal_observed(found: Finding, actor: Any, *, seed: int, at: Any, recheck: bool) -> Any:
    """A visit answered with HTTP 404: done, observation "removed" (the pipeline stores the
    404 page's record as the capture's files)."""
    capture = done_capture(found, actor, seed=seed, at=at)
    Capture.objects.filter(pk=capture.pk).update(http_status=404, is_recheck=recheck)
    return observed(capture, Observation.REMOVED, "http_404", at)


def mark_removed(found: Finding, actor: Any, at: Any) -> Finding:
    found = finding_set_status(finding=found, status=FindingStatus.CAPTURED, actor=actor)
    found = finding_set_status(finding=found, status=FindingStatus.REMOVED, actor=actor)
    Finding.objects.filter(pk=found.pk).update(removed_at=at)
    found.refresh_from_db()
    return found


def manifest_of(case: Any, actor: Any, callbacks: Any, folder: Any) -> dict[str, Any]:
    dossier = build(case, actor, "packet", callbacks)
    return json.loads((unpack(dossier, folder) / "manifest.json").read_text())


# ---------------------------------------------------------------------------- observations


@pytest.mark.usefixtures("quiet_capture")
def test_an_unreachable_attempt_is_shown_as_unreachable_and_never_as_a_removal(
    agency, bob, tmp_path, django_capture_on_commit_callbacks
) -> None:
    found = finding(agency, bob, "http://no-such-host.test/video/9")
    capture = failed_capture(found, bob)
    assert capture.observation == Observation.UNREACHABLE
    case = case_of(agency, bob, found)

    text = pdf_text(build(case, bob, "dossier", django_capture_on_commit_callbacks))

    attempts = chapter(text, "Capture attempts", "Evidence items")
    assert UNREACHABLE_TEXT in attempts
    assert "Removal observed" not in text
    assert "Removed" not in chapter(text, "Findings", "Capture attempts")
    manifest = manifest_of(case, bob, django_capture_on_commit_callbacks, tmp_path)
    [row] = manifest["capture_attempts"]
    assert row["observation"] == "unreachable" and row["observation_reason"] == "dns_error"
    assert row["observed_at_utc"] == capture.observed_at.isoformat()
    assert row["confirms_removal"] is False


@pytest.mark.usefixtures("quiet_capture")
def test_a_finding_marked_removed_on_unreachable_attempts_is_not_said_to_be_removed(
    agency, bob, tmp_path, django_capture_on_commit_callbacks
) -> None:
    """The status says Removed (set by a person), but the only visits failed on the
    network: the dossier names no confirming observation and says it states no removal."""
    found = finding(agency, bob, "http://no-such-host.test/video/10")
    first = failed_capture(found, bob)
    second = failed_capture(found, bob, recheck=True)
    found = mark_removed(found, bob, DONE_AT + timedelta(days=2))
    case = case_of(agency, bob, found)

    text = pdf_text(build(case, bob, "dossier", django_capture_on_commit_callbacks))

    findings = chapter(text, "Findings", "Capture attempts")
    assert f"Finding #{found.pk} is marked Removed (status set by bob" in findings
    assert "no two removal observations confirm it" in findings
    assert "this dossier does not state that the content was removed" in findings
    assert "confirmed by" not in findings
    attempts = chapter(text, "Capture attempts", "Evidence items")
    assert attempts.count(UNREACHABLE_TEXT) == 2
    assert "confirming the removal" not in attempts
    manifest = manifest_of(case, bob, django_capture_on_commit_callbacks, tmp_path)
    rows = {row["id"]: row for row in manifest["capture_attempts"]}
    assert not rows[first.pk]["confirms_removal"] and not rows[second.pk]["confirms_removal"]


def test_a_removed_finding_lists_its_two_confirming_removal_observations(
    agency, bob, settings, tmp_path, django_capture_on_commit_callbacks
) -> None:
    settings.CAPTURE_REMOVAL_CONFIRM_MINUTES = 30
    found = finding(agency, bob, "https://www.youtube.com/watch?v=gone")
    live = observed(done_capture(found, bob, seed=21), Observation.LIVE, "http_200", DONE_AT)
    t1, t2 = DONE_AT + timedelta(hours=1), DONE_AT + timedelta(hours=1, minutes=40)
    first = removal_observed(found, bob, seed=22, at=t1, recheck=True)
    second = removal_observed(found, bob, seed=23, at=t2, recheck=True)
    found = mark_removed(found, bob, t2 + timedelta(seconds=2))
    case = case_of(agency, bob, found)

    text = pdf_text(build(case, bob, "dossier", django_capture_on_commit_callbacks))

    findings = chapter(text, "Findings", "Capture attempts")
    assert (
        f"Finding #{found.pk} is Removed: the removal was observed by Re-check #{first.pk} "
        f"at 2025-03-04 15:06:07 KST (2025-03-04 06:06:07 UTC) (HTTP 404) and confirmed by "
        f"Re-check #{second.pk} at 2025-03-04 15:46:07 KST (2025-03-04 06:46:07 UTC) (HTTP 404)"
        in findings
    )
    assert "not state that the content was removed" not in findings
    attempts = chapter(text, "Capture attempts", "Evidence items")
    assert "Online (HTTP 200)" in attempts
    assert attempts.count("Removal observed: HTTP 404") == 2
    assert attempts.count("one of the two observations confirming the removal") == 2
    rows = {
        row["id"]: row
        for row in manifest_of(case, bob, django_capture_on_commit_callbacks, tmp_path)[
            "capture_attempts"
        ]
    }
    assert rows[live.pk]["observation"] == "live" and not rows[live.pk]["confirms_removal"]
    assert rows[first.pk]["confirms_removal"] and rows[second.pk]["confirms_removal"]
    assert rows[second.pk]["observation_reason"] == "http_404"
    assert rows[second.pk]["observed_at_utc"] == t2.isoformat()


def test_one_removal_observation_or_two_too_close_do_not_make_a_confirmed_removal(
    agency, bob, settings, django_capture_on_commit_callbacks
) -> None:
    settings.CAPTURE_REMOVAL_CONFIRM_MINUTES = 30
    found = finding(agency, bob, "https://www.youtube.com/watch?v=hasty")
    t1 = DONE_AT + timedelta(hours=1)
    removal_observed(found, bob, seed=24, at=t1, recheck=True)
    removal_observed(found, bob, seed=25, at=t1 + timedelta(minutes=5), recheck=True)
    found = mark_removed(found, bob, t1 + timedelta(minutes=6))
    case = case_of(agency, bob, found)

    text = pdf_text(build(case, bob, "dossier", django_capture_on_commit_callbacks))

    findings = chapter(text, "Findings", "Capture attempts")
    assert "no two removal observations confirm it" in findings
    assert "confirmed by" not in findings
    assert "confirming the removal" not in text


# ---------------------------------------------------------------------------- navigation


def browser_record(final_url: str, **changes: Any) -> dict[str, Any]:
    """details["browser"] as the pipeline writes it for a page that held still, plus
    `changes` (what a hostile page did)."""
    record = {
        "chromium": "131.0",
        "request_count": 3,
        "navigations": [{"action": "loaded", "url": final_url, "at_ms": 120}],
        "windows_opened": [],
        "document_rewritten": False,
        "displayed_url": final_url,
        "frozen": True,
    }
    record.update(changes)
    return record


def with_dom(capture: Capture, actor: Any, browser: dict[str, Any]) -> Any:
    Capture.objects.filter(pk=capture.pk).update(details={"browser": browser})
    evidence, _created = evidence_ingest(
        agency=capture.agency,
        data=f"<html><body>rendered {capture.pk}</body></html>".encode(),
        kind=EvidenceKind.DOM,
        collected_by=actor,
        finding=capture.finding,
        capture=capture,
        original_name=f"capture-{capture.pk}-rendered-dom.html",
        media_type="text/html",
    )
    return evidence


def test_an_attempt_whose_page_held_still_shows_no_navigation_warning(
    agency, bob, tmp_path, django_capture_on_commit_callbacks
) -> None:
    found = finding(agency, bob, "https://www.youtube.com/watch?v=still")
    capture = done_capture(found, bob, seed=31)
    with_dom(capture, bob, browser_record(found.canonical_url))
    case = case_of(agency, bob, found)

    text = pdf_text(build(case, bob, "dossier", django_capture_on_commit_callbacks))

    attempts = chapter(text, "Capture attempts", "Evidence items")
    assert "Address shown in the screenshot" in attempts
    assert flat(found.canonical_url) in flat(attempts)
    for warning in (
        "changed the address",
        "Navigation blocked",
        "rewrote its own document",
        "tried to open",
        "corresponds to the rendered DOM snapshot",
    ):
        assert warning not in text
    [row] = manifest_of(case, bob, django_capture_on_commit_callbacks, tmp_path)["capture_attempts"]
    assert row["navigation"] == {
        "displayed_url": found.canonical_url,
        "blocked_navigations": [],
        "windows_opened": [],
        "document_rewritten": False,
    }


def test_an_attempt_whose_page_moved_says_what_it_did_and_what_the_screenshot_shows(
    agency, bob, tmp_path, django_capture_on_commit_callbacks
) -> None:
    found = finding(agency, bob, "https://www.youtube.com/watch?v=hostile")
    capture = done_capture(found, bob, seed=32)
    url = found.canonical_url
    dom = with_dom(
        capture,
        bob,
        browser_record(
            url,
            navigations=[
                {"action": "loaded", "url": url, "at_ms": 100},
                {
                    "action": "blocked",
                    "url": "https://elsewhere.example/decoy",
                    "at_ms": 400,
                    "target": "main",
                    "reason": "scriptInitiated",
                    "why": "The page tried to replace the captured document.",
                },
                {"action": "same_document", "url": url + "&shown=1", "at_ms": 450},
                {"action": "document_opened", "url": url, "at_ms": 500},
            ],
            windows_opened=[{"url": "https://popup.example/ad", "name": "", "at_ms": 600}],
            document_rewritten=True,
            displayed_url=url + "&shown=1",
        ),
    )
    case = case_of(agency, bob, found)

    text = pdf_text(build(case, bob, "dossier", django_capture_on_commit_callbacks))

    attempts = chapter(text, "Capture attempts", "Evidence items")
    assert flat(url + "&shown=1") in flat(attempts)
    assert "The page changed the address in the browser after it was loaded" in attempts
    assert "Navigation blocked: https://elsewhere.example/decoy" in attempts
    assert "The page tried to replace the captured document." in attempts
    assert "Windows the page tried to open (closed)" in attempts
    assert "https://popup.example/ad" in attempts
    assert "The page rewrote its own document (document.open/write)" in attempts
    numbers = {
        f.evidence.kind: f.number
        for section in build_sections(case)
        for attempt in section.attempts
        for f in attempt.files
    }
    assert numbers[EvidenceKind.DOM] is not None and dom.kind == EvidenceKind.DOM
    assert (
        f"The screenshot (evidence item {numbers[EvidenceKind.SCREENSHOT]}) corresponds to the "
        f"rendered DOM snapshot (evidence item {numbers[EvidenceKind.DOM]}), not to the HTML as "
        f"served (evidence item {numbers[EvidenceKind.HTML]})" in attempts
    )
    [row] = manifest_of(case, bob, django_capture_on_commit_callbacks, tmp_path)["capture_attempts"]
    navigation = row["navigation"]
    assert navigation["displayed_url"] == url + "&shown=1"
    assert [n["url"] for n in navigation["blocked_navigations"]] == [
        "https://elsewhere.example/decoy"
    ]
    assert navigation["windows_opened"][0]["url"] == "https://popup.example/ad"
    assert navigation["document_rewritten"] is True


def test_an_attempt_without_a_browser_record_has_no_navigation(
    agency, bob, tmp_path, django_capture_on_commit_callbacks
) -> None:
    """No screenshot was taken: nothing is said about what the page displayed."""
    found = finding(agency, bob, "https://www.youtube.com/watch?v=nobrowser")
    done_capture(found, bob, seed=33)
    case = case_of(agency, bob, found)
    text = pdf_text(build(case, bob, "dossier", django_capture_on_commit_callbacks))
    assert "Address shown in the screenshot" not in text
    [row] = manifest_of(case, bob, django_capture_on_commit_callbacks, tmp_path)["capture_attempts"]
    assert row["navigation"] is None


def build_sections(case: Any) -> Any:
    from reports.context import dossier_context_build

    return dossier_context_build(case).capture_sections


# ---------------------------------------------------------------------------- WACZ


def with_wacz(capture: Capture, actor: Any, *, signed: bool, seed: int) -> Any:
    Capture.objects.filter(pk=capture.pk).update(
        details={
            "wacz": {
                "signed": signed,
                "signature": "anonymous ECDSA (WACZ signing 0.1.0)" if signed else "not signed",
                "datapackage_sha256": f"{seed:064x}",
                "public_key": "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQc" if signed else "",
            }
        }
    )
    evidence, _created = evidence_ingest(
        agency=capture.agency,
        data=f"PK wacz of capture {capture.pk} seed {seed}".encode(),
        kind=EvidenceKind.WACZ,
        collected_by=actor,
        finding=capture.finding,
        capture=capture,
        original_name=f"capture-{capture.pk}.wacz",
        media_type="application/wacz",
    )
    return evidence


def test_a_wacz_is_listed_with_its_hash_and_called_signed_only_when_it_is(
    agency, bob, tmp_path, django_capture_on_commit_callbacks
) -> None:
    found = finding(agency, bob, "https://www.youtube.com/watch?v=archive")
    plain = with_wacz(done_capture(found, bob, seed=41), bob, signed=False, seed=41)
    case = case_of(agency, bob, found)

    text = pdf_text(build(case, bob, "dossier", django_capture_on_commit_callbacks))
    attempts = chapter(text, "Capture attempts", "Evidence items")
    assert "Web archive (WACZ)" in attempts and plain.sha256 in flat(attempts)
    assert "WACZ signature: not signed" in attempts
    assert "signed (anonymous ECDSA" not in text
    [row] = manifest_of(case, bob, django_capture_on_commit_callbacks, tmp_path)["capture_attempts"]
    assert row["wacz"]["sha256"] == plain.sha256 and row["wacz"]["signed"] is False

    other = finding(agency, bob, "https://www.youtube.com/watch?v=archive2")
    signed = with_wacz(done_capture(other, bob, seed=42), bob, signed=True, seed=42)
    signed_case = case_of(agency, bob, other)
    text = pdf_text(build(signed_case, bob, "dossier", django_capture_on_commit_callbacks))
    attempts = chapter(text, "Capture attempts", "Evidence items")
    assert "WACZ signature: signed (anonymous ECDSA, WACZ signing)" in attempts
    assert signed.sha256 in flat(attempts)
    assert "not signed" not in attempts
    [row] = manifest_of(signed_case, bob, django_capture_on_commit_callbacks, tmp_path / "2")[
        "capture_attempts"
    ]
    assert row["wacz"]["sha256"] == signed.sha256 and row["wacz"]["signed"] is True


def test_a_wacz_that_could_not_be_built_is_said_so(
    agency, bob, tmp_path, django_capture_on_commit_callbacks
) -> None:
    found = finding(agency, bob, "https://www.youtube.com/watch?v=nowacz")
    capture = done_capture(found, bob, seed=43)
    Capture.objects.filter(pk=capture.pk).update(
        details={"wacz": {"signed": False, "signature": "not signed", "error": "disk full"}}
    )
    case = case_of(agency, bob, found)
    text = pdf_text(build(case, bob, "dossier", django_capture_on_commit_callbacks))
    assert "The WACZ could not be built: disk full" in text
    [row] = manifest_of(case, bob, django_capture_on_commit_callbacks, tmp_path)["capture_attempts"]
    assert row["wacz"]["sha256"] is None and row["wacz"]["error"] == "disk full"
