"""Findings recorded before a platform's share parameters were known are re-keyed by
`findings_recanonicalize`; one that would collide with another finding is only reported."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from cases.intake.canonical import canonical_hash, canonicalize_url
from cases.intake.models import Finding
from cases.intake.services.findings import finding_record
from cases.intake.services.recanonicalize import findings_recanonicalize
from cases.kernel.audit.services import audit_chain_verify
from cases.kernel.models import AuditEvent

pytestmark = pytest.mark.django_db

PLAIN = "https://www.tiktok.com/@someone/video/7300000000000000000"
SHARED = PLAIN + "?is_from_webapp=1&sender_device=pc"


def _recorded_under_old_rules(agency, bob, url):  # type: ignore[no-untyped-def]
    """A finding as the code before the platform rules stored it: share parameters kept."""
    finding, _ = finding_record(agency=agency, url=url, actor=bob)
    old = canonicalize_url(url)  # the global rules only
    Finding.objects.filter(pk=finding.pk).update(
        canonical_url=old, canonical_hash=canonical_hash(old)
    )
    return finding


def test_an_old_share_link_is_rekeyed_and_then_dedupes(agency, bob) -> None:  # type: ignore[no-untyped-def]
    old = _recorded_under_old_rules(agency, bob, SHARED)
    assert Finding.objects.get(pk=old.pk).canonical_url != canonicalize_url(PLAIN)

    report = findings_recanonicalize(agency=agency, actor=None)  # report only
    assert report.rekeyed == [old.pk] and report.duplicates == []
    assert Finding.objects.get(pk=old.pk).canonical_hash != canonical_hash(PLAIN)  # unchanged

    findings_recanonicalize(agency=agency, actor=None, apply=True)
    again, created = finding_record(agency=agency, url=PLAIN, actor=bob)
    assert not created and again.pk == old.pk
    event = AuditEvent.objects.get(action="finding.recanonicalized", object_id=str(old.pk))
    assert event.data == {"from": canonicalize_url(SHARED), "to": again.canonical_url}
    assert audit_chain_verify(agency=agency).ok
    # Idempotent: a second run finds nothing to move.
    assert findings_recanonicalize(agency=agency, actor=None, apply=True).rekeyed == []


def test_a_collision_is_reported_not_merged(agency, bob) -> None:  # type: ignore[no-untyped-def]
    old = _recorded_under_old_rules(agency, bob, SHARED)
    plain, _ = finding_record(agency=agency, url=PLAIN, actor=bob)  # two findings today
    result = findings_recanonicalize(agency=agency, actor=None, apply=True)
    assert result.rekeyed == [] and result.duplicates == [(old.pk, plain.pk)]
    assert Finding.objects.get(pk=old.pk).canonical_url == canonicalize_url(SHARED)
    out = StringIO()
    call_command("findings_recanonicalize", stdout=out)
    assert f"finding #{old.pk} is the same URL as finding #{plain.pk}" in out.getvalue()


def test_two_old_findings_that_become_one_move_only_once(agency, bob) -> None:  # type: ignore[no-untyped-def]
    first = _recorded_under_old_rules(agency, bob, SHARED)
    second = _recorded_under_old_rules(agency, bob, PLAIN + "?is_from_webapp=1")
    result = findings_recanonicalize(agency=agency, actor=None, apply=True)
    assert result.rekeyed == [first.pk] and result.duplicates == [(second.pk, first.pk)]


def test_other_agencies_are_untouched(agency, other_agency, bob, mallory) -> None:  # type: ignore[no-untyped-def]
    theirs = _recorded_under_old_rules(other_agency, mallory, SHARED)
    assert findings_recanonicalize(agency=agency, actor=None, apply=True).checked == 0
    assert Finding.objects.get(pk=theirs.pk).canonical_url == canonicalize_url(SHARED)
    out = StringIO()
    call_command("findings_recanonicalize", "--agency", other_agency.slug, stdout=out)
    assert "1 would be re-keyed" in out.getvalue()
