"""The hash-chained audit trail: append in the caller's transaction, verify on demand."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import models, transaction
from django.utils import timezone

from cases.models import Agency, AuditChain, AuditEvent
from cases.models.audit import GENESIS_HASH


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _event_payload(event: AuditEvent) -> dict[str, Any]:
    return {
        "agency": event.agency_id,
        "seq": event.seq,
        "actor": event.actor_label,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "data": event.data,
        "created_at": event.created_at.astimezone(UTC).isoformat(),
    }


def event_hash(event: AuditEvent) -> str:
    body = event.prev_hash + canonical_json(_event_payload(event))
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    """One event to append: what happened to which object, with JSON-able details."""

    action: str
    obj: models.Model | None = None
    data: dict[str, Any] | None = None
    object_type: str = ""
    object_id: str = ""


def _actor_fields(actor: AbstractBaseUser | AnonymousUser | None) -> tuple[Any, str]:
    if actor is None or not actor.is_authenticated:
        return None, "anonymous" if actor is not None else "system"
    return actor, actor.get_username()


def audit_record_many(
    *,
    agency: Agency,
    actor: AbstractBaseUser | AnonymousUser | None,
    entries: Sequence[AuditEntry],
    at: datetime | None = None,
) -> list[AuditEvent]:
    """Append events to the agency's chain inside the current transaction (one lock, one
    bulk insert). Raises if called outside a transaction: an event must commit with its change."""
    if not entries:
        return []
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_record_many must run inside transaction.atomic()")
    AuditChain.objects.get_or_create(agency=agency)
    chain = AuditChain.objects.select_for_update().get(agency=agency)
    actor_obj, actor_label = _actor_fields(actor)
    now = at or timezone.now()
    events = []
    prev, seq = chain.last_hash, chain.last_seq
    for entry in entries:
        seq += 1
        event = AuditEvent(
            agency=agency,
            seq=seq,
            actor=actor_obj,
            actor_label=actor_label,
            action=entry.action,
            object_type=entry.object_type or (entry.obj._meta.model_name if entry.obj else ""),
            object_id=entry.object_id or (str(entry.obj.pk) if entry.obj else ""),
            # Round-trip through canonical JSON so what is stored is exactly what is hashed.
            data=json.loads(canonical_json(entry.data or {})),
            created_at=now,
            prev_hash=prev,
        )
        event.hash = event_hash(event)
        prev = event.hash
        events.append(event)
    AuditEvent.objects.bulk_create(events, batch_size=2000)
    chain.last_seq, chain.last_hash = seq, prev
    chain.save(update_fields=["last_seq", "last_hash"])
    return events


def audit_record(
    *,
    agency: Agency,
    actor: AbstractBaseUser | AnonymousUser | None,
    action: str,
    obj: models.Model | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event; see audit_record_many."""
    entry = AuditEntry(action=action, obj=obj, data=data)
    return audit_record_many(agency=agency, actor=actor, entries=[entry])[0]


@dataclass(frozen=True)
class ChainReport:
    agency_id: int
    checked: int
    ok: bool
    broken_seq: int | None = None
    reason: str = ""


def audit_chain_verify(*, agency: Agency, batch_size: int = 5000) -> ChainReport:
    """Walk the chain in seq order; report the first event whose link or hash is wrong.

    Catches edited rows (hash mismatch), deleted rows (a gap in seq, or a head that points
    past the last row), inserted or reordered rows (prev_hash no longer the previous hash)."""
    expected_prev, expected_seq, checked = GENESIS_HASH, 1, 0
    events: Iterable[AuditEvent] = (
        AuditEvent.objects.filter(agency=agency).order_by("seq").iterator(chunk_size=batch_size)
    )
    for event in events:
        if event.seq != expected_seq:
            return ChainReport(
                agency.pk,
                checked,
                False,
                expected_seq,
                f"event #{expected_seq} is missing (next is #{event.seq})",
            )
        if event.prev_hash != expected_prev:
            return ChainReport(
                agency.pk,
                checked,
                False,
                event.seq,
                "previous-hash link does not match the event before it",
            )
        if event_hash(event) != event.hash:
            return ChainReport(
                agency.pk, checked, False, event.seq, "content does not match its hash (edited)"
            )
        expected_prev, expected_seq, checked = event.hash, expected_seq + 1, checked + 1
    head = AuditChain.objects.filter(agency=agency).first()
    if head is not None and (head.last_seq != checked or head.last_hash != expected_prev):
        return ChainReport(
            agency.pk,
            checked,
            False,
            checked + 1,
            f"chain head records #{head.last_seq} but only #{checked} verify (events removed from the end)",
        )
    return ChainReport(agency.pk, checked, True)
