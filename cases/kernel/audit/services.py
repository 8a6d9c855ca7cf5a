"""The keyed, hash-chained audit trail: append in the caller's transaction, anchor each
agency's head outside the database, verify against the anchors on demand.

hash = HMAC-SHA256(key, prev_hash + canonical JSON of the event and its key id), the key from
the environment (cases.kernel.audit.keys); the hashed bytes are defined once in
cases.kernel.audit.hashing, the walk that checks them is cases.kernel.audit.verify. Events
written before keying (key id "") verify as plain SHA-256, only as the start of a chain and
only up to the first anchor. The threat model (what this catches, what a key holder with
database superuser rights can still do after the last anchor) is in docs/audit.md."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import models, transaction
from django.utils import timezone

from cases.kernel.actor import Actor, actor_fields
from cases.kernel.audit.anchors import (
    ANCHOR_FORMAT,
    AnchorRecord,
    AnchorRef,
    anchor_list,
    anchor_put,
    anchor_read,
    anchor_token_put,
)
from cases.kernel.audit.hashing import canonical_json, event_hash, fields_hash, hash_json
from cases.kernel.audit.keys import audit_current_key
from cases.kernel.audit.timestamp import TimestampError, timestamp_manifest
from cases.kernel.audit.verify import ChainReport, audit_chain_verify, chain_walk
from cases.kernel.models import Agency, AuditChain, AuditEvent

# Imported from here by callers and tests (the names lived here first).
__all__ = [
    "AnchorOutcome",
    "AuditEntry",
    "ChainReport",
    "audit_anchor",
    "audit_anchor_all",
    "audit_chain_verify",
    "audit_record",
    "audit_record_many",
    "canonical_json",
    "event_hash",
    "fields_hash",
    "hash_json",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AuditEntry:
    """One event to append: what happened to which object, with JSON-able details."""

    action: str
    obj: models.Model | None = None
    data: dict[str, Any] | None = None
    object_type: str = ""
    object_id: str = ""


def audit_record_many(
    *,
    agency: Agency,
    actor: Actor,
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
    key_id, key = audit_current_key()
    actor_obj, actor_label = actor_fields(actor)
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
            object_type=entry.object_type
            or ((entry.obj._meta.model_name or "") if entry.obj else ""),
            object_id=entry.object_id or (str(entry.obj.pk) if entry.obj else ""),
            # Round-trip through canonical JSON so what is stored is exactly what is hashed.
            data=json.loads(canonical_json(entry.data or {})),
            created_at=now,
            prev_hash=prev,
            key_id=key_id,
        )
        event.hash = event_hash(event, key)
        prev = event.hash
        events.append(event)
    AuditEvent.objects.bulk_create(events, batch_size=2000)
    chain.last_seq, chain.last_hash = seq, prev
    chain.save(update_fields=["last_seq", "last_hash"])
    return events


def audit_chain_lock(*, agency_id: int) -> None:
    """Take the agency's audit-chain lock now, inside the caller's transaction, before the
    caller locks rows of its own. Every audited change takes this lock anyway (until
    commit), so a writer that takes it first adds no new lock order and may number its own
    changes in commit order under it (the exchange bank's change sequence)."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_chain_lock must run inside transaction.atomic()")
    AuditChain.objects.get_or_create(agency_id=agency_id)
    AuditChain.objects.select_for_update().filter(agency_id=agency_id).values_list(
        "pk", flat=True
    ).first()


def audit_record(
    *,
    agency: Agency,
    actor: Actor,
    action: str,
    obj: models.Model | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event; see audit_record_many."""
    entry = AuditEntry(action=action, obj=obj, data=data)
    return audit_record_many(agency=agency, actor=actor, entries=[entry])[0]


# ------------------------------------------------------------------------------ anchor


@dataclass(frozen=True)
class AnchorOutcome:
    """What audit_anchor did: the anchor of the current head (new, or already there), or
    why there is none (the chain does not verify, or has no events)."""

    agency_id: int
    report: ChainReport
    record: AnchorRecord | None = None
    written: bool = False
    timestamp_note: str = ""


def _timestamp(ref: AnchorRef, data: bytes) -> str:
    """An RFC 3161 token over the record when a TSA is configured; the note says what happened."""
    try:
        result = timestamp_manifest(hashlib.sha256(data).digest())
    except TimestampError as exc:
        log.warning("audit anchor %s not timestamped: %s", ref.name, exc)
        return f"not timestamped: {exc}"
    if result is None:
        return "not timestamped (no Time-Stamp Authority configured)"
    anchor_token_put(ref, result.token)
    return f"RFC 3161 token from {result.tsa_url}"


def audit_anchor(*, agency: Agency, reason: str) -> AnchorOutcome:
    """Write the agency's chain head to write-once storage, with an RFC 3161 token when a TSA
    is configured. The chain since the last anchor is verified first and a broken chain is
    never anchored (that would vouch for the forgery); the outcome says why not."""
    anchors = anchor_list(agency.pk)
    report = chain_walk(
        agency,
        anchors=anchors,
        since=anchors[-1] if anchors else None,
        # The first anchor after upgrading is what covers the unkeyed events.
        require_legacy_anchor=False,
    )
    if not report.ok:
        log.error(
            "audit chain of agency %s broken at #%s, not anchored: %s",
            agency.pk,
            report.broken_seq,
            report.reason,
        )
        return AnchorOutcome(agency.pk, report)
    if report.head_seq == 0:
        return AnchorOutcome(agency.pk, report)
    ref = AnchorRef(agency.pk, report.head_seq, report.head_hash)
    previous = anchors[-1] if anchors else None
    content = {
        "format": ANCHOR_FORMAT,
        "agency": agency.pk,
        "agency_slug": agency.slug,
        "seq": ref.seq,
        "hash": ref.hash,
        "key_id": report.head_key_id,
        "anchored_at": timezone.now().astimezone(UTC).isoformat(),
        "reason": reason,
        "previous_anchor": {"seq": previous.seq, "hash": previous.hash} if previous else None,
    }
    data, written = anchor_put(ref, content)
    note = _timestamp(ref, data) if written else ""
    record = anchor_read(ref)
    if not note:
        note = "RFC 3161 token stored" if record.timestamped else "not timestamped"
    return AnchorOutcome(agency.pk, report, record, written, note)


def audit_anchor_all(*, reason: str) -> list[AnchorOutcome]:
    """Anchor every agency's head (the schedule and manage.py audit_anchor)."""
    return [audit_anchor(agency=agency, reason=reason) for agency in Agency.objects.order_by("pk")]
