"""Every statement the dossier and the packet make, checked against the contrary case.

Alice's team records findings; some captures succeed, one fails on DNS, one is refused by
the network policy, one is still queued, one finding was never captured and one only has
files uploaded by hand. For each thing the dossier says (captured at, complete or not,
failed with what reason, uploaded by whom, timestamped, signed, which hashes, how many
items) a test builds the case where it must say the opposite and reads the PDF."""

from __future__ import annotations

import hashlib
import io
import json
import re
import socket
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.files.storage import default_storage
from django.urls import reverse
from pypdf import PdfReader

from cases.evidence.models import Capture, CaptureStatus, Evidence, EvidenceKind
from cases.evidence.services.captures import capture_request, capture_run
from cases.evidence.services.evidence import evidence_ingest
from cases.intake.services.findings import finding_record
from cases.kernel.audit.anchors import anchor_list, anchor_read
from cases.legal.services.legal_cases import case_create
from reports.context import dossier_context_build
from reports.models import Dossier, DossierStatus
from reports.render import fetcher_for
from reports.services import annex_candidates, dossier_request
from tests.reports.builders import png_bytes

HEX64 = re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])")
# A moment no capture below starts at, printed the way the dossier prints times.
DONE_AT = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
DONE_AT_TEXT = "2025-03-04 05:06:07 UTC"


# ---------------------------------------------------------------------------- builders


def _no_dns(host: str, port: int) -> list[str]:
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def _internal_dns(host: str, port: int) -> list[str]:
    return ["10.0.0.5"]


@pytest.fixture
def quiet_capture(settings):  # type: ignore[no-untyped-def]
    """Captures without Chromium and with the production network policy."""
    settings.CAPTURE_SCREENSHOT = False
    settings.CAPTURE_ALLOW_LOOPBACK_FOR_TESTS = False
    return settings


def finding(agency: Any, actor: Any, url: str) -> Any:
    made, _created = finding_record(agency=agency, url=url, actor=actor)
    return made


def failed_capture(found: Any, actor: Any, *, recheck: bool = False) -> Capture:
    """A real capture run whose host does not resolve: status failed, outcome dns_error,
    with its exchange record and WARC stored as Evidence of the capture."""
    capture = capture_request(finding=found, actor=actor, is_recheck=recheck)
    result = capture_run(capture_id=capture.pk, resolver=_no_dns)
    assert result is not None and result.status == CaptureStatus.FAILED
    assert result.outcome == "dns_error"
    assert Evidence.objects.filter(capture=result).count() >= 2
    return result


def refused_capture(found: Any, actor: Any) -> Capture:
    capture = capture_request(finding=found, actor=actor)
    result = capture_run(capture_id=capture.pk, resolver=_internal_dns)
    assert result is not None and result.status == CaptureStatus.REFUSED
    return result


def done_capture(found: Any, actor: Any, *, seed: int, at: datetime = DONE_AT) -> Capture:
    """A successful capture's record and files (HTML and a stamped screenshot), as the
    capture service stores them."""
    capture = Capture.objects.create(
        agency=found.agency,
        finding=found,
        status=CaptureStatus.DONE,
        outcome="ok",
        progress=100,
        requested_url=found.canonical_url,
        final_url=found.canonical_url,
        http_status=200,
        headers={"content-type": "text/html"},
        resolved_ip="198.51.100.7",
        collector_ip="203.0.113.5",
        tool_name="AgencyGuard capture",
        tool_version="1.0; Chromium 131",
        collector=actor,
        started_at=at,
        finished_at=at + timedelta(seconds=9),
    )
    for kind, data, media_type in (
        (EvidenceKind.HTML, f"<html><body>page {seed}</body></html>".encode(), "text/html"),
        (EvidenceKind.SCREENSHOT, png_bytes(seed), "image/png"),
    ):
        evidence_ingest(
            agency=found.agency,
            data=data,
            kind=kind,
            collected_by=actor,
            finding=found,
            capture=capture,
            original_name=f"capture-{capture.pk}.{kind}",
            media_type=media_type,
        )
    return capture


def case_of(agency: Any, actor: Any, *findings: Any) -> Any:
    return case_create(agency=agency, actor=actor, title="Statements", findings=findings)


def build(case: Any, actor: Any, kind: str, capture: Any) -> Dossier:
    with capture(execute=True):
        dossier = dossier_request(case=case, kind=kind, actor=actor)
    dossier.refresh_from_db()
    assert dossier.status == DossierStatus.DONE, dossier.error
    return dossier


def pdf_text(dossier: Dossier) -> str:
    with default_storage.open(dossier.pdf_name, "rb") as handle:
        reader = PdfReader(io.BytesIO(handle.read()))
    return " ".join("\n".join(page.extract_text() for page in reader.pages).split())


def flat(text: str) -> str:
    return "".join(text.split())


def unpack(dossier: Dossier, target: Path) -> Path:
    with default_storage.open(dossier.zip_name, "rb") as handle, zipfile.ZipFile(handle) as zf:
        zf.extractall(target)
    return target


def chapter(text: str, start: str, end: str) -> str:
    """The text of one chapter: from its heading's last occurrence (the contents page names
    it first) to the next chapter's."""
    begin = text.rindex(start)
    stop = text.find(end, begin)
    return text[begin : stop if stop >= 0 else None]


# ---------------------------------------------------------------------------- failed captures


def test_a_failed_capture_is_listed_as_a_failed_attempt_never_as_captured_evidence(
    agency, bob, quiet_capture, django_capture_on_commit_callbacks
) -> None:
    found = finding(agency, bob, "http://no-such-host.test/video/1")
    capture = failed_capture(found, bob)
    records = list(Evidence.objects.filter(capture=capture))
    case = case_of(agency, bob, found)

    text = pdf_text(build(case, bob, "dossier", django_capture_on_commit_callbacks))

    attempts = chapter(text, "Capture attempts", "Evidence items")
    assert f"Capture #{capture.pk}" in attempts
    assert "Failed" in attempts and "dns_error" in attempts
    assert "Host name could not be resolved" in attempts
    assert "Record of the failed attempt" in attempts
    for record in records:
        assert record.sha256 in flat(attempts)
        assert f"evidence #{record.pk}" not in text  # no evidence item of its own
    assert "Captured" not in text.replace("Capture attempts", "")
    assert "This dossier covers 1 finding and 0 evidence items" in text
    assert f"Records of unsuccessful capture attempts {len(records)}" in text  # the cover
    assert dossier_context_build(case).findings[0].evidence_count == 0  # findings table
    completeness = chapter(text, "Completeness check", "Verification appendix")
    assert f"Finding #{found.pk} is missing" in completeness
    assert f"no successful capture (capture #{capture.pk} failed: " in completeness


def test_captured_at_is_said_only_of_files_from_a_successful_capture(
    agency, bob, quiet_capture, django_capture_on_commit_callbacks
) -> None:
    found = finding(agency, bob, "https://www.youtube.com/watch?v=abc")
    done = done_capture(found, bob, seed=1)
    recheck = failed_capture(found, bob, recheck=True)
    case = case_of(agency, bob, found)

    text = pdf_text(build(case, bob, "dossier", django_capture_on_commit_callbacks))

    evidence = chapter(text, "Evidence items", "Notices and responses")
    assert evidence.count(f"Captured (capture #{done.pk}) {DONE_AT_TEXT}") == 2
    assert f"capture #{recheck.pk}" not in evidence
    attempts = chapter(text, "Capture attempts", "Evidence items")
    assert f"Capture #{done.pk}" in attempts and f"Re-check #{recheck.pk}" in attempts
    assert "Done" in attempts and "Failed" in attempts
    assert "This dossier covers 1 finding and 2 evidence items" in text


def test_a_failed_capture_with_a_screenshot_claims_neither_screenshot_nor_html(
    agency, bob, django_capture_on_commit_callbacks
) -> None:
    """A capture can fail after its pipeline took a screenshot (a page that navigated
    itself, say): those files document the failure, not the content."""
    found = finding(agency, bob, "https://www.youtube.com/watch?v=moving")
    capture = done_capture(found, bob, seed=2)
    Capture.objects.filter(pk=capture.pk).update(
        status=CaptureStatus.FAILED, outcome="ok", error="The page navigated during capture."
    )
    case = case_of(agency, bob, found)

    context = dossier_context_build(case)
    assert context.items == []
    assert {record.evidence.capture_id for record in context.records} == {capture.pk}
    assert not context.completeness[0].has_html and not context.completeness[0].has_screenshot
    assert annex_candidates(case) == []
    assert fetcher_for(context, lambda pk: None)._evidence_ids == frozenset()

    text = pdf_text(build(case, bob, "dossier", django_capture_on_commit_callbacks))
    assert "The page navigated during capture." in text
    assert "Blurred preview" not in text


def test_a_refused_capture_is_listed_with_the_policy_reason(
    agency, bob, quiet_capture, django_capture_on_commit_callbacks
) -> None:
    found = finding(agency, bob, "http://intranet.example.com/admin")
    capture = refused_capture(found, bob)
    case = case_of(agency, bob, found)

    text = pdf_text(build(case, bob, "dossier", django_capture_on_commit_callbacks))

    attempts = chapter(text, "Capture attempts", "Evidence items")
    assert f"Capture #{capture.pk}" in attempts
    assert "Refused" in attempts and "Refused by the network policy" in attempts
    assert capture.error and capture.error[:40] in attempts
    assert "Record of the refused attempt" in attempts
    assert f"no successful capture (capture #{capture.pk} refused" in text


def test_an_unfinished_capture_is_listed_as_not_finished(
    agency, bob, django_capture_on_commit_callbacks
) -> None:
    found = finding(agency, bob, "https://www.youtube.com/watch?v=slow")
    capture = capture_request(finding=found, actor=bob)
    case = case_of(agency, bob, found)

    text = pdf_text(build(case, bob, "dossier", django_capture_on_commit_callbacks))

    attempts = chapter(text, "Capture attempts", "Evidence items")
    assert f"Capture #{capture.pk}" in attempts
    assert "Queued: not finished when this dossier was generated" in attempts
    assert f"no successful capture (capture #{capture.pk} not finished)" in text


def test_a_finding_without_any_capture_says_so(
    agency, bob, django_capture_on_commit_callbacks
) -> None:
    found = finding(agency, bob, "https://www.youtube.com/watch?v=never")
    case = case_of(agency, bob, found)

    text = pdf_text(build(case, bob, "dossier", django_capture_on_commit_callbacks))

    assert "No capture was attempted for this finding." in chapter(
        text, "Capture attempts", "Evidence items"
    )
    assert "no capture was attempted" in chapter(text, "Completeness check", "Verification")


# ---------------------------------------------------------------------------- completeness


def test_completeness_is_claimed_only_when_a_successful_capture_has_html_and_screenshot(
    agency, bob, quiet_capture, django_capture_on_commit_callbacks
) -> None:
    complete = finding(agency, bob, "https://www.youtube.com/watch?v=complete")
    done_capture(complete, bob, seed=3)
    case = case_of(agency, bob, complete)
    text = pdf_text(build(case, bob, "dossier", django_capture_on_commit_callbacks))
    assert "Every finding meets the Berkeley Protocol minimum." in text
    assert "is missing" not in text

    broken = finding(agency, bob, "http://no-such-host.test/x")
    failed_capture(broken, bob)
    case.findings.add(broken)
    text = pdf_text(build(case, bob, "dossier", django_capture_on_commit_callbacks))
    assert "Every finding meets" not in text
    assert "1 of 2 findings lack part of the Berkeley Protocol minimum" in text
    assert f"Finding #{broken.pk} is missing" in text


def test_uploaded_files_do_not_make_a_finding_complete_and_are_shown_as_uploaded(
    agency, bob, django_capture_on_commit_callbacks
) -> None:
    found = finding(agency, bob, "https://www.youtube.com/watch?v=uploaded")
    for kind, data, media_type in (
        (EvidenceKind.HTML, b"<html><body>saved by hand</body></html>", "text/html"),
        (EvidenceKind.SCREENSHOT, png_bytes(77), "image/png"),
    ):
        evidence_ingest(
            agency=agency,
            data=data,
            kind=kind,
            collected_by=bob,
            finding=found,
            original_name=f"upload.{kind}",
            media_type=media_type,
        )
    case = case_of(agency, bob, found)

    text = pdf_text(build(case, bob, "dossier", django_capture_on_commit_callbacks))

    evidence = chapter(text, "Evidence items", "Notices and responses")
    assert evidence.count("Uploaded by bob") == 2
    assert "Captured" not in evidence
    assert "no capture was attempted" in chapter(text, "Completeness check", "Verification")
    assert "1 of 1 findings lack part of the Berkeley Protocol minimum" in text


# ---------------------------------------------------------------------------- packet


def test_the_manifest_lists_every_attempt_and_flags_files_by_their_capture_status(
    agency, bob, quiet_capture, tmp_path, django_capture_on_commit_callbacks
) -> None:
    found = finding(agency, bob, "https://www.youtube.com/watch?v=mixed")
    done = done_capture(found, bob, seed=4)
    failed = failed_capture(found, bob, recheck=True)
    queued = capture_request(finding=finding(agency, bob, "https://x.com/a/status/1"), actor=bob)
    case = case_of(agency, bob, found, queued.finding)

    dossier = build(case, bob, "packet", django_capture_on_commit_callbacks)
    manifest = json.loads((unpack(dossier, tmp_path) / "manifest.json").read_text())

    assert manifest["schema"] == "agencyguard.evidence-packet/2"
    attempts = {row["id"]: row for row in manifest["capture_attempts"]}
    assert set(attempts) == {done.pk, failed.pk, queued.pk}
    assert attempts[done.pk]["status"] == "done" and attempts[done.pk]["succeeded"]
    assert attempts[failed.pk]["status"] == "failed" and not attempts[failed.pk]["succeeded"]
    assert attempts[failed.pk]["outcome"] == "dns_error"
    assert "could not be resolved" in attempts[failed.pk]["error"]
    assert attempts[failed.pk]["is_recheck"] and attempts[queued.pk]["status"] == "queued"

    failed_files = set(Evidence.objects.filter(capture=failed).values_list("sha256", flat=True))
    done_files = set(Evidence.objects.filter(capture=done).values_list("sha256", flat=True))
    assert set(attempts[failed.pk]["records"]) == failed_files
    assert set(attempts[done.pk]["evidence"]) == done_files
    for item in manifest["items"]:
        if item["sha256"] in failed_files:
            assert item["role"] == "record_of_unsuccessful_attempt"
            assert item["capture_status"] == "failed" and item["captured_at_utc"] is None
        else:
            assert item["role"] == "evidence" and item["capture_status"] == "done"
            assert item["captured_at_utc"] == DONE_AT.isoformat()
    assert manifest["evidence_count"] == len(done_files)
    assert manifest["attempt_record_count"] == len(failed_files)
    [row] = [row for row in manifest["completeness"] if row["finding_id"] == queued.finding_id]
    assert not row["complete"] and "not finished" in row["reason"]


def test_the_pdf_hashes_are_the_packet_files_hashes_and_the_counts_match_the_manifest(
    client, agency, bob, quiet_capture, tmp_path, django_capture_on_commit_callbacks
) -> None:
    found = finding(agency, bob, "https://www.youtube.com/watch?v=counts")
    done_capture(found, bob, seed=5)
    failed_capture(found, bob, recheck=True)
    other = finding(agency, bob, "http://no-such-host.test/y")
    failed_capture(other, bob)
    case = case_of(agency, bob, found, other)

    dossier = build(case, bob, "packet", django_capture_on_commit_callbacks)
    folder = unpack(dossier, tmp_path)
    text = pdf_text(dossier)
    manifest = json.loads((folder / "manifest.json").read_text())

    files = {
        hashlib.sha256(path.read_bytes()).hexdigest(): path.name
        for path in (folder / "evidence").iterdir()
    }
    assert all(name.startswith(sha) for sha, name in files.items())
    assert all(sha in flat(text) for sha in files)
    # No other hash printed, except the audit chain head anchored at export and the SHA-256
    # of its anchor record (the verification appendix), which are checked against storage.
    [*_, anchor] = anchor_list(agency.pk)
    anchored = {anchor.hash, anchor_read(anchor).sha256}
    assert anchored <= set(HEX64.findall(text))
    assert set(HEX64.findall(text)) <= set(files) | anchored
    evidence = [item for item in manifest["items"] if item["role"] == "evidence"]
    records = [item for item in manifest["items"] if item["role"] != "evidence"]
    assert {item["sha256"] for item in manifest["items"]} == set(files)
    assert manifest["evidence_count"] == len(evidence) == 2
    assert manifest["attempt_record_count"] == len(records) >= 4
    assert f"Evidence items {len(evidence)} Records of unsuccessful capture attempts" in text
    assert (
        f"This dossier covers 2 findings and {len(evidence)} evidence items, "
        f"plus {len(records)} records of unsuccessful capture attempts" in text
    )
    # The case page's panel counts what was exported: files, not "evidence items".
    client.force_login(bob)
    panel = client.get(reverse("case_dossier_panel", args=[case.pk])).content.decode()
    assert f"{len(files)} stored files exported" in panel
    assert "evidence item" not in panel


def test_a_packet_is_called_signed_only_with_a_signature(
    agency, bob, settings, tmp_path, django_capture_on_commit_callbacks
) -> None:
    found = finding(agency, bob, "https://www.youtube.com/watch?v=signed")
    done_capture(found, bob, seed=6)
    case = case_of(agency, bob, found)

    unsigned = pdf_text(build(case, bob, "packet", django_capture_on_commit_callbacks))
    assert "This packet is not signed" in unsigned
    assert "SHA256SUMS is signed" not in unsigned

    key = Ed25519PrivateKey.generate()
    key_path = tmp_path / "key.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    settings.PACKET_SIGNING_KEY = str(key_path)
    dossier = build(case, bob, "packet", django_capture_on_commit_callbacks)
    signed = pdf_text(dossier)
    public = (unpack(dossier, tmp_path / "p") / "signing-key.pub").read_bytes()
    assert "SHA256SUMS is signed" in signed and "not signed" not in signed
    assert hashlib.sha256(public).hexdigest() in flat(signed)


def test_a_dossier_is_called_timestamped_only_with_a_token(
    agency, bob, settings, django_capture_on_commit_callbacks
) -> None:
    found = finding(agency, bob, "https://www.youtube.com/watch?v=time")
    done_capture(found, bob, seed=7)
    case = case_of(agency, bob, found)

    plain = pdf_text(build(case, bob, "dossier", django_capture_on_commit_callbacks))
    assert "This PDF on its own is not timestamped and not signed" in plain
    packet = pdf_text(build(case, bob, "packet", django_capture_on_commit_callbacks))
    assert "This packet is not timestamped" in packet

    # With a TSA configured the PDF (written before the token is asked for) can only say
    # that one is requested, never that it was granted.
    settings.TSA_URL = "http://tsa.invalid/"
    requested = pdf_text(build(case, bob, "packet", django_capture_on_commit_callbacks))
    assert "This packet is not timestamped" not in requested
    # The audit anchor taken at export asked the same (unreachable) TSA and says it failed.
    assert "Not timestamped: the TSA could not be reached" in requested
    assert "is timestamped" not in requested
    assert "requestedfromhttp://tsa.invalid/" in flat(requested)


def test_bytes_a_failed_attempt_stored_first_count_once_a_successful_capture_gets_them(
    agency, bob, django_capture_on_commit_callbacks
) -> None:
    """Evidence is content-addressed: when a later successful capture produces the same
    bytes, the row still points at the failed attempt, yet it is evidence captured by the
    successful one (at its time), found through that capture's artefact list."""
    found = finding(agency, bob, "https://www.youtube.com/watch?v=same")
    failed = done_capture(found, bob, seed=8, at=DONE_AT - timedelta(days=1))
    Capture.objects.filter(pk=failed.pk).update(status=CaptureStatus.FAILED, error="navigated")
    later = done_capture(found, bob, seed=9)
    shared = list(Evidence.objects.filter(capture=failed))
    Capture.objects.filter(pk=later.pk).update(
        details={"artefacts": [{"evidence": e.pk, "reused": True} for e in shared]}
    )
    case = case_of(agency, bob, found)

    context = dossier_context_build(case)

    assert context.records == []
    by_id = {item.evidence.pk: item for item in context.items}
    for evidence in shared:
        item = by_id[evidence.pk]
        assert item.capture.pk == later.pk and item.captured_utc == DONE_AT_TEXT
    [row] = context.completeness
    assert row.complete and row.based_on == [f"Capture #{later.pk}"]
    [section] = context.capture_sections
    failed_attempt = next(a for a in section.attempts if a.capture.pk == failed.pk)
    assert {f.number for f in failed_attempt.files} == {by_id[e.pk].number for e in shared}

    text = pdf_text(build(case, bob, "dossier", django_capture_on_commit_callbacks))
    evidence = chapter(text, "Evidence items", "Notices and responses")
    # Its own two files and the two it shares with the failed attempt.
    assert evidence.count(f"Captured (capture #{later.pk}) {DONE_AT_TEXT}") == 4
    assert f"Captured (capture #{failed.pk})" not in text
    attempts = chapter(text, "Capture attempts", "Evidence items")
    assert attempts.count("the same bytes as evidence item") == 2
