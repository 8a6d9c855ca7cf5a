from __future__ import annotations

import pytest

from cases.intake.canonical import InvalidURL
from cases.intake.models import Finding
from cases.intake.services.findings import (
    StatusChangeError,
    finding_bulk_set_status,
    finding_record,
    finding_set_status,
)
from cases.kernel.models import AuditEvent
from tests.factories import make_finding


def test_recording_a_url_detects_its_platform(agency, bob) -> None:  # type: ignore[no-untyped-def]
    finding, created = finding_record(
        agency=agency, url="https://m.youtube.com/watch?v=abc&si=share", actor=bob
    )
    assert created
    assert finding.canonical_url == "https://m.youtube.com/watch?v=abc"
    assert finding.platform.name == "YouTube"
    assert finding.host == "m.youtube.com"


def test_recording_the_same_url_twice_returns_the_existing_finding(agency, bob) -> None:  # type: ignore[no-untyped-def]
    first, created = finding_record(
        agency=agency, url="https://x.com/a/status/1?utm_source=tw", actor=bob
    )
    again, created_again = finding_record(
        agency=agency, url="HTTPS://X.COM/a/status/1#reply", actor=bob
    )
    assert created and not created_again
    assert again.pk == first.pk
    assert Finding.objects.filter(agency=agency).count() == 1


def test_two_agencies_may_record_the_same_url(agency, other_agency) -> None:  # type: ignore[no-untyped-def]
    a, _ = finding_record(agency=agency, url="https://x.com/a", actor=None)
    b, created = finding_record(agency=other_agency, url="https://x.com/a", actor=None)
    assert created and a.pk != b.pk


def test_invalid_url_records_nothing(agency, bob) -> None:  # type: ignore[no-untyped-def]
    before = AuditEvent.objects.count()
    with pytest.raises(InvalidURL):
        finding_record(agency=agency, url="javascript:alert(1)", actor=bob)
    assert Finding.objects.count() == 0
    assert AuditEvent.objects.count() == before


def test_artists_of_another_agency_are_not_linked(agency, other_agency, bob) -> None:  # type: ignore[no-untyped-def]
    from tests.factories import ArtistFactory

    foreign = ArtistFactory(agency=other_agency)
    finding, _ = finding_record(agency=agency, url="https://x.com/b", actor=bob, artists=[foreign])
    assert list(finding.artists.all()) == []


def test_status_lifecycle_stamps_each_step(finding, bob) -> None:  # type: ignore[no-untyped-def]
    for status in ("triaged", "captured", "notice_sent", "removed", "reappeared"):
        finding = finding_set_status(finding=finding, status=status, actor=bob)
    assert finding.status == "reappeared"
    assert finding.triaged_at and finding.captured_at and finding.notice_sent_at
    assert finding.removed_at and finding.reappeared_at


def test_a_forbidden_transition_is_refused_and_not_audited(finding, bob) -> None:  # type: ignore[no-untyped-def]
    before = AuditEvent.objects.count()
    with pytest.raises(StatusChangeError, match="cannot move"):
        finding_set_status(finding=finding, status="removed", actor=bob)
    finding.refresh_from_db()
    assert finding.status == "new"
    assert AuditEvent.objects.count() == before


def test_dismissal_needs_a_reason(finding, bob) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(StatusChangeError, match="reason"):
        finding_set_status(finding=finding, status="dismissed", actor=bob, reason="  ")
    finding = finding_set_status(
        finding=finding, status="dismissed", actor=bob, reason="official video"
    )
    assert finding.dismissed_reason == "official video"


def test_bulk_status_changes_allowed_ones_and_explains_the_rest(agency, bob) -> None:  # type: ignore[no-untyped-def]
    findings = [make_finding(agency, f"https://example.com/{n}", actor=bob) for n in range(4)]
    finding_set_status(finding=findings[0], status="triaged", actor=bob)
    changed, refused = finding_bulk_set_status(findings=findings, status="triaged", actor=bob)
    assert changed == 3
    assert [(f.pk, "already") for f, reason in refused if "already" in reason] == [
        (findings[0].pk, "already")
    ]
    assert Finding.objects.filter(agency=agency, status="triaged").count() == 4
