"""Custody: one service writes every entry (cases.evidence.services.evidence), one at a time
for a view or a download, in bulk for a dossier export; both write the same rows and the
same audit events."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cases.evidence.models import CustodyAction, CustodyEvent, Evidence, EvidenceKind
from cases.evidence.services.evidence import custody_record, custody_record_many, evidence_ingest
from cases.kernel.audit.services import audit_chain_verify
from cases.kernel.models import AuditEvent
from tests.evidence.samples import png_bytes

pytestmark = pytest.mark.django_db


def _items(agency, finding, count: int) -> list[Evidence]:  # type: ignore[no-untyped-def]
    return [
        evidence_ingest(
            agency=agency,
            data=png_bytes((32, 32), seed=100 + n),
            kind=EvidenceKind.UPLOAD,
            finding=finding,
        )[0]
        for n in range(count)
    ]


def _written(events: list[CustodyEvent]) -> list[tuple[object, ...]]:
    rows = CustodyEvent.objects.filter(pk__in=[e.pk for e in events]).order_by("pk")
    return [(r.evidence_id, r.action, r.actor_id, r.actor_label, r.reason) for r in rows]


def test_one_entry_and_many_write_the_same_rows_and_audit_events(agency, finding, bob) -> None:  # type: ignore[no-untyped-def]
    first, second, third = _items(agency, finding, 3)
    single = custody_record(evidence=first, action=CustodyAction.EXPORTED, actor=bob, reason="r")
    many = custody_record_many(
        agency=agency,
        evidence=[second, third],
        action=CustodyAction.EXPORTED,
        actor=bob,
        reason="r",
    )
    assert _written([single, *many]) == [
        (item.pk, "exported", bob.pk, "bob", "r") for item in (first, second, third)
    ]
    audits = AuditEvent.objects.filter(action="evidence.exported").order_by("seq")
    assert [(a.object_id, a.actor_label, a.data) for a in audits] == [
        (str(item.pk), "bob", {"sha256": item.sha256, "custody_event": event.pk, "reason": "r"})
        for item, event in zip((first, second, third), [single, *many], strict=True)
    ]
    assert audit_chain_verify(agency=agency).ok


def test_custody_names_the_actor_by_the_kernels_rule(agency, finding, bob) -> None:  # type: ignore[no-untyped-def]
    (item,) = _items(agency, finding, 1)
    for actor, user, label in (
        (bob, bob, "bob"),
        (AnonymousUser(), None, "anonymous"),
        (None, None, "system"),
    ):
        event = custody_record(evidence=item, action=CustodyAction.VIEWED, actor=actor)
        assert (event.actor, event.actor_label) == (user, label)


def test_many_entries_cost_as_many_queries_as_two(agency, finding, bob) -> None:  # type: ignore[no-untyped-def]
    items = _items(agency, finding, 12)
    counts = []
    for batch in (items[:2], items[2:]):
        with CaptureQueriesContext(connection) as queries:
            custody_record_many(
                agency=agency, evidence=batch, action=CustodyAction.DOWNLOADED, actor=bob
            )
        counts.append(len(queries))
    assert counts[0] == counts[1]
    assert CustodyEvent.objects.filter(action=CustodyAction.DOWNLOADED).count() == 12


def test_another_agencys_evidence_is_refused_and_nothing_is_written(
    agency, other_agency, finding, bob
) -> None:  # type: ignore[no-untyped-def]
    items = _items(agency, finding, 2)
    with pytest.raises(ValueError, match="another agency"):
        custody_record_many(
            agency=other_agency, evidence=items, action=CustodyAction.EXPORTED, actor=bob
        )
    assert not CustodyEvent.objects.filter(action=CustodyAction.EXPORTED).exists()
    assert not AuditEvent.objects.filter(action="evidence.exported").exists()


def test_nothing_to_record_writes_nothing(agency, bob) -> None:  # type: ignore[no-untyped-def]
    before = AuditEvent.objects.count()
    assert custody_record_many(agency=agency, evidence=[], action="exported", actor=bob) == []
    assert AuditEvent.objects.count() == before
