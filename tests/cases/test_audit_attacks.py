"""Every attack on the audit trail from issue 9, performed with raw SQL as an insider with
database rights would: each is caught by audit_verify or refused by the database.

Alice's agency has a chain of events; an anchor of its head sits in write-once storage;
a few events follow the anchor. The forger works as the owner of the tables (triggers off
on PostgreSQL; tests/audit_helpers.py). What a forger holding the key can still do after
the last anchor is pinned down too (docs/audit.md)."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, transaction

from cases.evidence.models import CustodyEvent
from cases.kernel.audit.keys import audit_current_key
from cases.kernel.audit.services import audit_anchor, audit_chain_verify
from cases.kernel.models import AuditChain, AuditEvent
from detection.models import DetectionReview
from tests.audit_helpers import (
    APPEND_ONLY_TABLES,
    EVENTS,
    HEADS,
    as_db_owner,
    events_of,
    rewrite_from,
    sql,
)
from tests.factories import make_finding

# Alice's agency records one event of its own, then one per finding: six findings.
ANCHORED = 7


@pytest.fixture
def chain(agency, bob):  # type: ignore[no-untyped-def]
    """Events up to an anchor (ANCHORED: the anchored seq), then two more after it."""
    for n in range(6):
        make_finding(agency, f"https://example.com/video/{n}", actor=bob)
    outcome = audit_anchor(agency=agency, reason="test")
    assert outcome.record is not None and outcome.record.ref.seq == ANCHORED
    for n in range(6, 8):
        make_finding(agency, f"https://example.com/video/{n}", actor=bob)
    assert audit_chain_verify(agency=agency).ok
    return events_of(agency)


def test_the_untouched_chain_verifies_against_its_anchor(agency, chain) -> None:  # type: ignore[no-untyped-def]
    report = audit_chain_verify(agency=agency)
    assert report.ok and report.checked == ANCHORED + 2 == len(chain)
    assert report.anchors_matched == 1 and report.last_anchor.seq == ANCHORED
    assert {event.key_id for event in chain} == {audit_current_key()[0]}


def test_an_edited_event_is_caught(agency, chain) -> None:  # type: ignore[no-untyped-def]
    with as_db_owner():
        sql(f"UPDATE {EVENTS} SET data = %s WHERE id = %s", ['{"url": "forged"}', chain[2].pk])
    report = audit_chain_verify(agency=agency)
    assert (report.ok, report.broken_seq) == (False, 3)
    assert "HMAC" in report.reason


def test_a_deleted_event_is_caught(agency, chain) -> None:  # type: ignore[no-untyped-def]
    with as_db_owner():
        sql(f"DELETE FROM {EVENTS} WHERE id = %s", [chain[3].pk])
    report = audit_chain_verify(agency=agency)
    assert (report.ok, report.broken_seq) == (False, 4)
    assert "missing" in report.reason


def test_reordered_events_are_caught(agency, chain) -> None:  # type: ignore[no-untyped-def]
    a, b = chain[1], chain[2]
    with as_db_owner():
        sql(f"UPDATE {EVENTS} SET seq = 10000 WHERE id = %s", [a.pk])
        sql(f"UPDATE {EVENTS} SET seq = %s WHERE id = %s", [a.seq, b.pk])
        sql(f"UPDATE {EVENTS} SET seq = %s WHERE id = %s", [b.seq, a.pk])
    report = audit_chain_verify(agency=agency)
    assert (report.ok, report.broken_seq) == (False, a.seq)


def test_tail_truncation_with_the_head_moved_is_caught(agency, chain) -> None:  # type: ignore[no-untyped-def]
    keep = chain[3]  # #4: the anchored event goes with the tail
    with as_db_owner():
        sql(f"DELETE FROM {EVENTS} WHERE agency_id = %s AND seq > %s", [agency.pk, keep.seq])
        sql(
            f"UPDATE {HEADS} SET last_seq = %s, last_hash = %s WHERE agency_id = %s",
            [keep.seq, keep.hash, agency.pk],
        )
    report = audit_chain_verify(agency=agency)
    assert (report.ok, report.broken_seq) == (False, 5)
    assert "anchor" in report.reason and "removed from the end" in report.reason


def test_tail_truncation_with_the_head_deleted_is_caught(agency, chain) -> None:  # type: ignore[no-untyped-def]
    with as_db_owner():
        sql(f"DELETE FROM {EVENTS} WHERE agency_id = %s AND seq > 2", [agency.pk])
        sql(f"DELETE FROM {HEADS} WHERE agency_id = %s", [agency.pk])
    report = audit_chain_verify(agency=agency)
    assert (report.ok, report.broken_seq) == (False, 3)
    assert f"records event #{ANCHORED}" in report.reason


def test_deleting_the_anchored_head_event_and_moving_the_head_is_caught(agency, bob) -> None:  # type: ignore[no-untyped-def]
    for n in range(3):
        make_finding(agency, f"https://example.com/clip/{n}", actor=bob)
    audit_anchor(agency=agency, reason="test")
    *rest, head = events_of(agency)
    with as_db_owner():
        sql(f"DELETE FROM {EVENTS} WHERE id = %s", [head.pk])
        sql(
            f"UPDATE {HEADS} SET last_seq = %s, last_hash = %s WHERE agency_id = %s",
            [rest[-1].seq, rest[-1].hash, agency.pk],
        )
    report = audit_chain_verify(agency=agency)
    assert (report.ok, report.broken_seq) == (False, head.seq)
    assert f"records event #{head.seq}" in report.reason


@pytest.mark.parametrize(
    ("key", "key_id", "reason"),
    [
        (b"a-guessed-key-of-the-forger", None, "HMAC"),
        (None, "", "unkeyed event after"),  # relabelled as written before keying
    ],
    ids=["guessed-key", "relabelled-unkeyed"],
)
def test_full_recomputation_without_the_key_is_caught(agency, chain, key, key_id, reason) -> None:  # type: ignore[no-untyped-def]
    after = ANCHORED + 1
    rewrite_from(agency, after, key=key, key_id=key_id, edit={"action": "forged"}, start_at=after)
    report = audit_chain_verify(agency=agency)
    assert (report.ok, report.broken_seq) == (False, after)
    assert reason in report.reason


def test_full_recomputation_as_unkeyed_without_any_anchor_is_caught(agency, bob) -> None:  # type: ignore[no-untyped-def]
    for n in range(4):
        make_finding(agency, f"https://example.com/clip/{n}", actor=bob)
    rewrite_from(agency, 2, key=None, key_id="", edit={"action": "finding.forged"})
    report = audit_chain_verify(agency=agency)
    assert not report.ok
    assert "no anchor covers them" in report.reason


@pytest.mark.parametrize("seq", range(1, ANCHORED + 1))
def test_recomputation_with_the_key_of_any_event_up_to_the_last_anchor_is_caught(
    agency, chain, seq
) -> None:  # type: ignore[no-untyped-def]
    _key_id, key = audit_current_key()
    rewrite_from(agency, seq, key=key, edit={"action": "finding.forged"}, start_at=seq)
    report = audit_chain_verify(agency=agency)
    assert (report.ok, report.broken_seq) == (False, ANCHORED)
    assert "does not match the anchor" in report.reason


def test_a_key_holder_can_still_rewrite_events_after_the_last_anchor(agency, chain) -> None:  # type: ignore[no-untyped-def]
    # The documented limit (docs/audit.md): with the key and the database, the events after
    # the last anchor can be rewritten undetectably. The next anchor is what closes it.
    _key_id, key = audit_current_key()
    after = ANCHORED + 1
    rewrite_from(agency, after, key=key, edit={"action": "finding.forged"}, start_at=after)
    assert audit_chain_verify(agency=agency).ok


def test_the_next_anchor_refuses_a_chain_rewritten_up_to_the_last_one(agency, chain) -> None:  # type: ignore[no-untyped-def]
    _key_id, key = audit_current_key()
    rewrite_from(agency, 3, key=key, edit={"action": "finding.forged"}, start_at=3)
    outcome = audit_anchor(agency=agency, reason="test")
    assert outcome.record is None and not outcome.report.ok
    assert outcome.report.broken_seq == ANCHORED


@pytest.mark.parametrize("model", [AuditEvent, CustodyEvent, DetectionReview])
def test_orm_bulk_delete_and_update_are_refused(agency, chain, model) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(RuntimeError, match="append-only: bulk delete refused"):
        model.objects.filter(agency=agency).delete()
    with pytest.raises(RuntimeError, match="append-only: bulk update refused"):
        model.objects.filter(agency=agency).update(agency=agency)
    assert AuditEvent.objects.filter(agency=agency).count() == len(chain)


# --- PostgreSQL: the database itself refuses ------------------------------------------------


@pytest.fixture
def rows(agency, bob, chain):  # type: ignore[no-untyped-def]
    """One row in each append-only table (row triggers fire only on rows)."""
    from cases.evidence.models import EvidenceKind
    from cases.evidence.services.evidence import evidence_ingest

    evidence, _created = evidence_ingest(
        agency=agency, data=b"%PDF-1.4 evidence", kind=EvidenceKind.UPLOAD, collected_by=bob
    )
    DetectionReview.objects.create(
        agency=agency, evidence=evidence, verdict="unsure", reviewer=bob, reviewer_label="bob"
    )
    return evidence


def _refused(statement: str, params: tuple[object, ...] = ()) -> str:
    with pytest.raises(DatabaseError) as excinfo, transaction.atomic():
        sql(statement, params)
    return str(excinfo.value)


@pytest.mark.parametrize("table", APPEND_ONLY_TABLES)
def test_postgresql_refuses_update_delete_and_truncate(pg, rows, agency, table) -> None:  # type: ignore[no-untyped-def]
    assert "append-only" in _refused(f"UPDATE {table} SET agency_id = agency_id")
    assert "append-only" in _refused(f"DELETE FROM {table} WHERE agency_id = %s", (agency.pk,))
    # The test database allows TRUNCATE for pytest-django's flush (tests/conftest.py); a
    # production session does not have the setting.
    sql("SET LOCAL agencyguard.allow_truncate = 'off'")
    sql("SET CONSTRAINTS ALL IMMEDIATE")  # else TRUNCATE waits on this test's deferred checks
    assert "append-only" in _refused(f"TRUNCATE {table} CASCADE")


def test_postgresql_refuses_moving_the_head_backwards_or_deleting_it(pg, agency, chain) -> None:  # type: ignore[no-untyped-def]
    message = _refused(f"UPDATE {HEADS} SET last_seq = 4 WHERE agency_id = %s", (agency.pk,))
    assert "only moves forward" in message
    assert "only moves forward" in _refused(
        f"DELETE FROM {HEADS} WHERE agency_id = %s", (agency.pk,)
    )
    assert AuditChain.objects.get(agency=agency).last_seq == len(chain)


def test_postgresql_lets_a_deleted_user_go_but_keeps_the_rows(pg, agency, bob, rows, chain) -> None:  # type: ignore[no-untyped-def]
    # ON DELETE SET NULL clears the reference to the person; the row keeps their name.
    other = type(bob).objects.create(username="temp")
    assert "may only be cleared" in _refused(
        f"UPDATE {EVENTS} SET actor_id = %s WHERE actor_id = %s", (other.pk, bob.pk)
    )
    bob.delete()
    assert AuditEvent.objects.filter(agency=agency, actor_label="bob", actor=None).exists()
    assert CustodyEvent.objects.get(evidence=rows).actor_id is None
    assert DetectionReview.objects.get(evidence=rows).reviewer_label == "bob"
    assert audit_chain_verify(agency=agency).ok


def test_postgresql_refuses_a_raw_update_of_the_chain(pg, agency, chain) -> None:  # type: ignore[no-untyped-def]
    message = _refused(f"UPDATE {EVENTS} SET action = 'forged' WHERE id = %s", (chain[0].pk,))
    assert "UPDATE on cases_auditevent refused" in message
    assert audit_chain_verify(agency=agency).ok
