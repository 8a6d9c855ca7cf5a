"""The audit chain: every write leaves an event, and the verifier catches any tampering."""

from __future__ import annotations

import itertools

import pytest
from django.db import transaction

from cases.intake.services.findings import finding_set_status
from cases.kernel.audit.services import audit_chain_verify, audit_record, event_hash
from cases.kernel.models import AuditChain, AuditEvent
from tests.audit_helpers import EVENTS, as_db_owner, sql
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
    with as_db_owner():
        sql(f"UPDATE {EVENTS} SET data = %s WHERE id = %s", ['{"url": "forged"}', target.pk])
    report = audit_chain_verify(agency=agency)
    assert not report.ok
    assert report.broken_seq == target.seq
    assert "edited" in report.reason


def test_verifier_catches_an_edit_that_also_rehashes_the_row(agency, chain) -> None:  # type: ignore[no-untyped-def]
    # A forger who recomputes the edited row's hash (even with the key) still breaks the
    # next row's link.
    from cases.kernel.audit.keys import audit_current_key

    target = AuditEvent.objects.get(pk=chain[2].pk)
    target.action = "forged"
    forged = event_hash(target, audit_current_key()[1])
    with as_db_owner():
        sql(f"UPDATE {EVENTS} SET action = 'forged', hash = %s WHERE id = %s", [forged, target.pk])
    report = audit_chain_verify(agency=agency)
    assert not report.ok
    assert report.broken_seq == target.seq + 1


def test_verifier_catches_a_deleted_event(agency, chain) -> None:  # type: ignore[no-untyped-def]
    target = chain[3]
    with as_db_owner():
        sql(f"DELETE FROM {EVENTS} WHERE id = %s", [target.pk])
    report = audit_chain_verify(agency=agency)
    assert not report.ok
    assert report.broken_seq == target.seq
    assert "missing" in report.reason


def test_verifier_catches_a_deleted_last_event(agency, chain) -> None:  # type: ignore[no-untyped-def]
    last = AuditEvent.objects.filter(agency=agency).order_by("-seq").first()
    with as_db_owner():
        sql(f"DELETE FROM {EVENTS} WHERE id = %s", [last.pk])
    report = audit_chain_verify(agency=agency)
    assert not report.ok
    assert report.broken_seq == last.seq
    assert "head" in report.reason


def test_verifier_catches_reordered_events(agency, chain) -> None:  # type: ignore[no-untyped-def]
    a, b = chain[1], chain[2]
    with transaction.atomic(), as_db_owner():
        sql(f"UPDATE {EVENTS} SET seq = 10000 WHERE id = %s", [a.pk])
        sql(f"UPDATE {EVENTS} SET seq = %s WHERE id = %s", [a.seq, b.pk])
        sql(f"UPDATE {EVENTS} SET seq = %s WHERE id = %s", [b.seq, a.pk])
    report = audit_chain_verify(agency=agency)
    assert not report.ok
    assert report.broken_seq == a.seq


def test_chains_of_two_agencies_are_independent(agency, other_agency, chain) -> None:  # type: ignore[no-untyped-def]
    make_finding(other_agency, "https://example.com/nebula/1")
    with as_db_owner():
        sql(f"UPDATE {EVENTS} SET action = 'forged' WHERE id = %s", [chain[1].pk])
    assert not audit_chain_verify(agency=agency).ok
    assert audit_chain_verify(agency=other_agency).ok
    assert (
        AuditChain.objects.get(agency=other_agency).last_seq
        == AuditEvent.objects.filter(agency=other_agency).count()
    )


def test_the_admin_offers_no_way_to_delete_an_event(admin_client, chain) -> None:  # type: ignore[no-untyped-def]
    from django.urls import reverse

    event = chain.first()
    url = reverse("admin:cases_auditevent_delete", args=[event.pk])
    assert admin_client.post(url, {"post": "yes"}).status_code == 403
    changelist = admin_client.get(reverse("admin:cases_auditevent_changelist"))
    assert changelist.status_code == 200 and "delete_selected" not in changelist.content.decode()
    assert AuditEvent.objects.filter(pk=event.pk).exists()
