"""The keyed, hash-chained audit trail: append in the caller's transaction, anchor each
agency's head outside the database, verify against the anchors on demand.

hash = HMAC-SHA256(key, prev_hash + canonical JSON of the event and its key id), the key from
the environment (cases.kernel.audit.keys). Events written before keying (key id "") verify as plain
SHA-256, only as the start of a chain and only up to the first anchor. The threat model
(what this catches, what a key holder with database superuser rights can still do after the
last anchor) is in docs/audit.md."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

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
from cases.kernel.audit.keys import LEGACY_KEY_ID, audit_current_key, audit_keys
from cases.kernel.audit.timestamp import TimestampError, timestamp_manifest
from cases.kernel.models import GENESIS_HASH, Agency, AuditChain, AuditEvent

log = logging.getLogger(__name__)


# One encoder built once: json.dumps with keyword arguments builds a new encoder for every
# call, which was a third of the hashing time.
canonical_json = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
).encode


def _hash_encoder() -> Any:
    """canonical_json for a dict, without the per-call set-up of JSONEncoder.encode: the C
    encoder made once with the same options (json.JSONEncoder.iterencode's own call: same
    bytes), or canonical_json where the C encoder is missing."""
    c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if c_make_encoder is None:
        return canonical_json
    # markers None: no cycle check (JSON read back from the database, or plain data).
    make = c_make_encoder(
        None, str, json.encoder.encode_basestring, None, ":", ",", True, False, True
    )
    return lambda value: "".join(make(value, 0))


_hash_json = _hash_encoder()


def fields_hash(
    agency_id: int,
    seq: int,
    actor_label: str,
    action: str,
    object_type: str,
    object_id: str,
    data: Any,
    created_at: datetime,
    prev_hash: str,
    key_id: str,
    key: bytes | None,
) -> str:
    """The hash of one event from its fields: the single definition of the hashed bytes,
    used when recording (events) and when verifying (plain rows fetched in batches)."""
    payload = {
        "agency": agency_id,
        "seq": seq,
        "actor": actor_label,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "data": data,
        "created_at": created_at.astimezone(UTC).isoformat(),
    }
    if key is not None:
        payload["key_id"] = key_id
    body = (prev_hash + _hash_json(payload)).encode("utf-8")
    if key is None:
        return hashlib.sha256(body).hexdigest()
    return hmac.digest(key, body, "sha256").hex()


def event_hash(event: AuditEvent | _EventRow, key: bytes | None) -> str:
    """HMAC-SHA256 with `key` over the previous hash and the event (its key id included, so
    an event cannot be relabelled as unkeyed); plain SHA-256 for a legacy event (key None)."""
    return fields_hash(
        event.agency_id,
        event.seq,
        event.actor_label,
        event.action,
        event.object_type,
        event.object_id,
        event.data,
        event.created_at,
        event.prev_hash,
        event.key_id,
        key,
    )


class _EventRow(NamedTuple):
    """An event as the verifier fetches it: the hashed fields, no model instance."""

    seq: int
    agency_id: int
    actor_label: str
    action: str
    object_type: str
    object_id: str
    data: Any
    created_at: datetime
    prev_hash: str
    hash: str
    key_id: str


_ROW_FIELDS = (
    "seq",
    "agency_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "data",
    "created_at",
    "prev_hash",
    "hash",
    "key_id",
)


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


# ------------------------------------------------------------------------------ verify


@dataclass(frozen=True)
class ChainReport:
    """One walk of an agency's chain: ok, or the first broken link and why."""

    agency_id: int
    checked: int
    ok: bool
    broken_seq: int | None = None
    reason: str = ""
    head_seq: int = 0
    head_hash: str = GENESIS_HASH
    head_key_id: str = ""
    anchors_matched: int = 0
    last_anchor: AnchorRef | None = None


def _anchor_when(ref: AnchorRef) -> str:
    """'written at <time>' for messages; the record may be unreadable (that is said too)."""
    try:
        return f"written at {anchor_read(ref).anchored_at}"
    except (OSError, ValueError):
        return "(record unreadable)"


class _Walk:
    """State of one walk; `broken()` builds the report that names the first bad link."""

    def __init__(self, agency: Agency, anchors: list[AnchorRef]) -> None:
        self.agency = agency
        self.anchors = anchors
        self.anchored: dict[int, set[str]] = {}
        for ref in anchors:
            self.anchored.setdefault(ref.seq, set()).add(ref.hash)
        self.keys = audit_keys()
        self.prev, self.seq, self.checked, self.matched = GENESIS_HASH, 1, 0, 0
        self.seen_keyed, self.legacy, self.key_id = False, 0, ""

    def broken(self, seq: int, reason: str) -> ChainReport:
        return ChainReport(
            self.agency.pk,
            self.checked,
            False,
            seq,
            reason,
            anchors_matched=self.matched,
            last_anchor=self.anchors[-1] if self.anchors else None,
        )

    def check(self, event: _EventRow) -> ChainReport | None:
        """None when the event is a valid next link; else the report of the break."""
        if event.seq != self.seq:
            return self.broken(self.seq, f"event #{self.seq} is missing (next is #{event.seq})")
        if event.prev_hash != self.prev:
            return self.broken(event.seq, "previous-hash link does not match the event before it")
        key = None
        if event.key_id == LEGACY_KEY_ID:
            first_anchor = self.anchors[0].seq if self.anchors else None
            if self.seen_keyed or (first_anchor is not None and event.seq > first_anchor):
                return self.broken(
                    event.seq,
                    "unkeyed event after keyed ones or after the first anchor: "
                    "written or rewritten without the audit key",
                )
            self.legacy += 1
        else:
            self.seen_keyed = True
            key = self.keys.get(event.key_id)
            if key is None:
                return self.broken(
                    event.seq,
                    f"keyed with key id '{event.key_id}', which is not configured "
                    "(AUDIT_HMAC_KEYS): cannot be verified",
                )
        if not hmac.compare_digest(event_hash(event, key), event.hash):
            what = "its HMAC (edited, or rehashed without the key)" if key else "its hash (edited)"
            return self.broken(event.seq, f"content does not match {what}")
        hashes = self.anchored.get(event.seq)
        if hashes is not None:
            if hashes != {event.hash}:
                ref = next(r for r in self.anchors if r.seq == event.seq and r.hash != event.hash)
                return self.broken(
                    event.seq,
                    f"does not match the anchor {_anchor_when(ref)} (anchored hash "
                    f"{ref.hash[:16]}…): the chain was rewritten up to here",
                )
            self.matched += 1
        self.prev, self.seq, self.key_id = event.hash, event.seq + 1, event.key_id
        self.checked += 1
        return None


def _chain_walk(
    agency: Agency,
    *,
    anchors: list[AnchorRef],
    since: AnchorRef | None = None,
    require_legacy_anchor: bool = True,
    batch_size: int = 10000,
) -> ChainReport:
    walk = _Walk(agency, anchors)
    # The head first, then the events up to it: an append that commits meanwhile is left for
    # the next walk instead of looking like a break.
    head = AuditChain.objects.filter(agency=agency).values_list("last_seq", "last_hash").first()
    events = AuditEvent.objects.filter(agency=agency)
    if head is not None:
        events = events.filter(seq__lte=head[0])
    if since is not None:
        start = events.filter(seq=since.seq).first()
        if start is None or start.hash != since.hash:
            return walk.broken(
                since.seq,
                f"event #{since.seq} is missing or differs from the anchor {_anchor_when(since)}",
            )
        walk.prev, walk.seq, walk.key_id = start.hash, start.seq + 1, start.key_id
        walk.seen_keyed = start.key_id != LEGACY_KEY_ID
        events = events.filter(seq__gt=since.seq)
    # Plain tuples in seq-keyed batches (no model instances, no server-side cursor): the
    # walk runs at the speed of hashing, not of the ORM.
    after = walk.seq - 1
    while True:
        batch = list(
            events.filter(seq__gt=after).order_by("seq").values_list(*_ROW_FIELDS)[:batch_size]
        )
        for values in batch:
            if (report := walk.check(_EventRow._make(values))) is not None:
                return report
        if len(batch) < batch_size:
            break
        after = batch[-1][0]
    end = walk.seq - 1
    top = anchors[-1] if anchors else None
    if top is not None and top.seq > end:
        return walk.broken(
            end + 1,
            f"the anchor {_anchor_when(top)} records event #{top.seq}, but the chain ends at "
            f"#{end}: events were removed from the end",
        )
    if walk.legacy and top is None and require_legacy_anchor:
        return walk.broken(
            1,
            f"{walk.legacy} events are unkeyed (written before the chain was keyed) and no "
            "anchor covers them yet: run manage.py audit_anchor",
        )
    if head is None:
        if end > 0:
            return walk.broken(end, "the chain head record is missing (deleted behind the app)")
    elif head != (end, walk.prev):
        return walk.broken(
            end + 1 if head[0] > end else end,
            f"chain head records #{head[0]} but the chain ends at #{end} "
            "(events removed from the end, or the head moved)",
        )
    else:
        beyond = AuditEvent.objects.filter(agency=agency, seq__gt=end).order_by("seq").first()
        if (
            beyond is not None
            and not AuditChain.objects.filter(agency=agency, last_seq__gte=beyond.seq).exists()
        ):
            return walk.broken(beyond.seq, f"event #{beyond.seq} lies beyond the chain head #{end}")
    return ChainReport(
        agency.pk,
        walk.checked,
        True,
        head_seq=end,
        head_hash=walk.prev,
        head_key_id=walk.key_id,
        anchors_matched=walk.matched,
        last_anchor=top,
    )


def audit_chain_verify(*, agency: Agency, batch_size: int = 10000) -> ChainReport:
    """Walk the whole chain in seq order against every anchor; report the first bad link.

    Catches edited rows (HMAC mismatch), rows rehashed without the key, deleted rows (a gap,
    or a chain shorter than its head or an anchor), inserted or reordered rows (a broken
    link), a chain rewritten with the key up to an anchor (anchored hash differs), and
    unkeyed rows where only keyed ones may be."""
    try:
        anchors = anchor_list(agency.pk)
    except Exception as exc:  # any storage backend's error: said, not raised as a 500
        log.exception("audit anchors of agency %s unreadable", agency.pk)
        return ChainReport(
            agency.pk, 0, False, None, f"the anchors could not be read from storage: {exc}"
        )
    return _chain_walk(agency, anchors=anchors, batch_size=batch_size)


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
    report = _chain_walk(
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
