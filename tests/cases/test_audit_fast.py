"""The fast paths of the audit chain write and read the same bytes as the plain ones."""

from __future__ import annotations

import json
from datetime import date

import pytest
from django.db import transaction

from cases.kernel.audit import services
from cases.kernel.audit.bulk import audit_append_rows
from cases.kernel.audit.keys import audit_keys
from cases.kernel.audit.services import audit_chain_verify, audit_record, event_hash
from cases.kernel.models import AuditEvent
from tests.audit_helpers import EVENTS, as_db_owner, sql

pytestmark = pytest.mark.django_db

PAYLOADS = [
    {"b": 1, "a": '유나 "x"\n\t', "c": [1.5, float("nan"), None, True, -0.0, 10**30]},
    {"z": {"y": 1e100, "x": date(2026, 1, 2)}, "": "", "é": ["\u2028", "\x00"]},
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_hash_encoder_writes_the_canonical_bytes(payload) -> None:  # type: ignore[no-untyped-def]
    expected = json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    assert services.hash_json(payload) == expected == services.canonical_json(payload)


def test_bulk_appended_events_chain_after_recorded_ones_and_verify(agency, bob) -> None:  # type: ignore[no-untyped-def]
    with transaction.atomic():
        audit_record(agency=agency, actor=bob, action="x.before", data={"n": 1})
        audit_append_rows(
            agency=agency,
            actor=bob,
            rows=[
                ("finding.recorded", "finding", str(n), {"url": f"u{n}", "n": n}) for n in range(3)
            ],
        )
        audit_record(agency=agency, actor=bob, action="x.after")
    events = list(AuditEvent.objects.filter(agency=agency).order_by("seq"))
    assert [e.action for e in events][-5:] == ["x.before"] + ["finding.recorded"] * 3 + ["x.after"]
    keys = audit_keys()
    for event in events:
        assert event_hash(event, keys.get(event.key_id)) == event.hash
    bulk = events[-2]
    assert (bulk.actor_id, bulk.actor_label, bulk.data) == (
        bob.pk,
        bob.username,
        {"url": "u2", "n": 2},
    )
    assert audit_chain_verify(agency=agency).ok


def test_a_bulk_event_edited_afterwards_breaks_the_chain(agency, bob) -> None:  # type: ignore[no-untyped-def]
    with transaction.atomic():
        audit_append_rows(
            agency=agency, actor=bob, rows=[("a", "finding", str(n), {"n": n}) for n in range(5)]
        )
    event = AuditEvent.objects.get(agency=agency, action="a", object_id="2")
    with as_db_owner():  # behind the app, as a forger with database rights
        sql(f"UPDATE {EVENTS} SET data = %s WHERE id = %s", ['{"n": 3}', event.pk])
    report = audit_chain_verify(agency=agency, batch_size=2)
    assert not report.ok and report.broken_seq == event.seq
