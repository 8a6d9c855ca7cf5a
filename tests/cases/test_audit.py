"""The audit chain: every write leaves an event, and the verifier catches any tampering."""

from __future__ import annotations

import itertools

import pytest
from django.db import connection, transaction

from cases.models import AuditChain, AuditEvent
from cases.services.audit import audit_chain_verify, audit_record
from cases.services.findings import finding_set_status
from tests.factories import make_finding


@pytest.fixture
def chain(agency, bob):  # type: ignore[no-untyped-def]
    for n in range(5):
        make_finding(agency, f"https://example.com/video/{n}", actor=bob)
    return AuditEvent.objects.filter(agency=agency).order_by("seq")


def test_every_write_appends_a_linked_event(agency, bob, chain) -> None:  # type: ignore[no-untyped-def]
    events = list(chain)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    for before, after in itertools.pairwise(events):
        assert after.prev_hash == before.hash
    assert audit_chain_verify(agency=agency).ok


def test_status_change_is_audited_in_the_same_transaction(agency, bob, finding) -> None:  # type: ignore[no-untyped-def]
    finding_set_status(finding=finding, status="triaged", actor=bob)
    event = AuditEvent.objects.filter(agency=agency).order_by("-seq").first()
    assert event.action == "finding.status_changed"
    assert event.data == {"from": "new", "to": "triaged", "reason": ""}
    assert event.actor_label == "bob"


@pytest.mark.django_db(transaction=True)
def test_audit_record_outside_a_transaction_is_refused(agency) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuntimeError, match="inside transaction"):
        audit_record(agency=agency, actor=None, action="x")


def test_events_cannot_be_changed_or_deleted_through_the_orm(chain) -> None:  # type: ignore[no-untyped-def]
    event = chain.first()
    event.action = "forged"
    with pytest.raises(RuntimeError, match="append-only"):
        event.save()
    with pytest.raises(RuntimeError, match="append-only"):
        event.delete()


def test_verifier_catches_an_edited_event(agency, chain) -> None:  # type: ignore[no-untyped-def]
    target = chain[2]
    AuditEvent.objects.filter(pk=target.pk).update(data={"url": "https://forged.example/"})
    report = audit_chain_verify(agency=agency)
    assert not report.ok
    assert report.broken_seq == target.seq
    assert "edited" in report.reason


def test_verifier_catches_an_edit_that_also_rehashes_the_row(agency, chain) -> None:  # type: ignore[no-untyped-def]
    # A forger who recomputes the edited row's hash still breaks the next row's link.
    from cases.services.audit import event_hash

    target = AuditEvent.objects.get(pk=chain[2].pk)
    target.action = "forged"
    AuditEvent.objects.filter(pk=target.pk).update(action="forged", hash=event_hash(target))
    report = audit_chain_verify(agency=agency)
    assert not report.ok
    assert report.broken_seq == target.seq + 1


def test_verifier_catches_a_deleted_event(agency, chain) -> None:  # type: ignore[no-untyped-def]
    target = chain[3]
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {AuditEvent._meta.db_table} WHERE id = %s", [target.pk])
    report = audit_chain_verify(agency=agency)
    assert not report.ok
    assert report.broken_seq == target.seq
    assert "missing" in report.reason


def test_verifier_catches_a_deleted_last_event(agency, chain) -> None:  # type: ignore[no-untyped-def]
    last = AuditEvent.objects.filter(agency=agency).order_by("-seq").first()
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {AuditEvent._meta.db_table} WHERE id = %s", [last.pk])
    report = audit_chain_verify(agency=agency)
    assert not report.ok
    assert report.broken_seq == last.seq
    assert "head" in report.reason


def test_verifier_catches_reordered_events(agency, chain) -> None:  # type: ignore[no-untyped-def]
    a, b = chain[1], chain[2]
    with transaction.atomic():
        AuditEvent.objects.filter(pk=a.pk).update(seq=10_000)
        AuditEvent.objects.filter(pk=b.pk).update(seq=a.seq)
        AuditEvent.objects.filter(pk=a.pk).update(seq=b.seq)
    report = audit_chain_verify(agency=agency)
    assert not report.ok
    assert report.broken_seq == a.seq


def test_chains_of_two_agencies_are_independent(agency, other_agency, chain) -> None:  # type: ignore[no-untyped-def]
    make_finding(other_agency, "https://example.com/nebula/1")
    AuditEvent.objects.filter(pk=chain[1].pk).update(action="forged")
    assert not audit_chain_verify(agency=agency).ok
    assert audit_chain_verify(agency=other_agency).ok
    assert (
        AuditChain.objects.get(agency=other_agency).last_seq
        == AuditEvent.objects.filter(agency=other_agency).count()
    )
