"""Tools of the audit attack tests: raw SQL as an insider would run it, a switch that plays
the database owner (who can turn the triggers off), and a forger that recomputes hashes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from django.db import connection

from cases.evidence.models import CustodyEvent
from cases.kernel.audit import verify
from cases.kernel.audit.services import event_hash
from cases.kernel.models import AuditChain, AuditEvent
from detection.models import DetectionReview

EVENTS = AuditEvent._meta.db_table
HEADS = AuditChain._meta.db_table
APPEND_ONLY_TABLES = [EVENTS, CustodyEvent._meta.db_table, DetectionReview._meta.db_table]


def sql(statement: str, params: Sequence[Any] = ()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


@contextmanager
def as_db_owner() -> Iterator[None]:
    """The attacker who owns the tables (or is a superuser): on PostgreSQL they switch the
    append-only triggers off first; SQLite has none to switch off."""
    tables = [*APPEND_ONLY_TABLES, HEADS]
    if connection.vendor == "postgresql":
        # ALTER TABLE waits for no deferred foreign-key check of this transaction.
        sql("SET CONSTRAINTS ALL IMMEDIATE")
        for table in tables:
            sql(f"ALTER TABLE {table} DISABLE TRIGGER USER")
    try:
        yield
    finally:
        if connection.vendor == "postgresql":
            for table in tables:
                sql(f"ALTER TABLE {table} ENABLE TRIGGER USER")


def events_of(agency: Any) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(agency=agency).order_by("seq"))


def rewrite_from(
    agency: Any,
    seq: int,
    *,
    key: bytes | None,
    key_id: str | None = None,
    edit: dict[str, Any] | None = None,
    start_at: int = 1,
) -> None:
    """Edit event #seq (fields in `edit`) and recompute every hash from #start_at on with
    `key` (None: plain SHA-256), relabelling the key id when given, then move the head to
    the new last hash. All with raw SQL, as the owner of the tables."""
    with as_db_owner():
        prev = None
        for event in events_of(agency):
            if event.seq < start_at:
                prev = event.hash
                continue
            if event.seq == seq:
                for field, value in (edit or {}).items():
                    setattr(event, field, value)
            if key_id is not None:
                event.key_id = key_id
            if prev is not None:
                event.prev_hash = prev
            event.hash = event_hash(event, key)
            sql(
                f"UPDATE {EVENTS} SET action = %s, object_id = %s, prev_hash = %s, hash = %s, "
                "key_id = %s WHERE id = %s",
                [
                    event.action,
                    event.object_id,
                    event.prev_hash,
                    event.hash,
                    event.key_id,
                    event.pk,
                ],
            )
            prev = event.hash
        sql(f"UPDATE {HEADS} SET last_hash = %s WHERE agency_id = %s", [prev, agency.pk])


def walk_checks(monkeypatch: Any) -> list[int]:
    """The seqs that go through the verifier's _Walk.check (not its fast loop) from now on."""
    seen: list[int] = []
    check = verify._Walk.check

    def spy(self: Any, event: Any) -> Any:
        seen.append(event.seq)
        return check(self, event)

    monkeypatch.setattr(verify._Walk, "check", spy)
    return seen
