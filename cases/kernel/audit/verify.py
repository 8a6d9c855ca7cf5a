"""Verifying an agency's audit chain: the walk in seq order against every anchor, naming the
first broken link (audit_chain_verify, and audit_anchor before it writes an anchor).

The events are read as the database driver returns them, in batches from one ordered query
(a server-side cursor on PostgreSQL), and the plain case -- the next event, linked to the one
before, keyed with a configured key, not at an anchor -- is hashed straight from those
values in one loop. Every other event, and any whose hash does not match there, goes through
_Walk.check after Django's own conversion of the row, which decides and words the verdict:
the fast loop only ever accepts an event whose stored hash it has recomputed."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models.sql.constants import MULTI

from cases.kernel.audit.anchors import AnchorRef, anchor_list, anchor_read
from cases.kernel.audit.hashing import (
    EVENT_ROW_COLUMNS,
    EventRow,
    created_iso,
    event_hash,
    hash_json,
    hmac_sha256,
    json_string,
)
from cases.kernel.audit.keys import LEGACY_KEY_ID, audit_keys
from cases.kernel.models import GENESIS_HASH, Agency, AuditChain, AuditEvent

log = logging.getLogger(__name__)


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

    def check(self, event: EventRow) -> ChainReport | None:
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


def chain_walk(
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
    rows = events.order_by("seq").values_list(*EVENT_ROW_COLUMNS)
    if (report := _walk_rows(walk, rows, batch_size)) is not None:
        return report
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


_CREATED = EVENT_ROW_COLUMNS.index("created_at")
# json.loads's own scanner (C where there is one): scan(text, 0) is (value, end).
_scan_json = json.decoder.JSONDecoder().scan_once  # type: ignore[attr-defined]


def _walk_rows(walk: _Walk, rows: Any, batch_size: int) -> ChainReport | None:
    """Check the events of `rows` (a values_list of EVENT_ROW_COLUMNS in seq order), fetched
    batch_size at a time as plain driver tuples; None when all are valid next links."""
    compiler = rows.query.get_compiler(using=rows.db)
    batches: Iterable[list[tuple[Any, ...]]] = compiler.execute_sql(
        MULTI, chunked_fetch=True, chunk_size=batch_size
    )
    # Django's converters for these columns (text to datetime on SQLite, ...): what the ORM
    # would apply, for the rows that go to _Walk.check and for created_at below.
    converters = compiler.get_converters([s[0] for s in compiler.select[: compiler.col_count]])
    created_convs, created_expr = converters.get(_CREATED, ((), None))
    connection = compiler.connection

    def convert(row: tuple[Any, ...]) -> EventRow:
        values = next(compiler.results_iter(results=[[row]], tuple_expected=True))
        return EventRow._make(values)

    def iso_of(raw: Any) -> str:
        value = raw
        for converter in created_convs:
            value = converter(value, created_expr, connection)
        return created_iso(value)

    hashers: dict[str, Callable[[bytes], str]] = {
        key_id: hmac_sha256(key) for key_id, key in walk.keys.items() if key_id != LEGACY_KEY_ID
    }
    anchored, scan, encode, string = walk.anchored, _scan_json, hash_json, json_string
    # Bulk writers give a whole chunk one created_at: its ISO form is made once.
    isos: dict[Any, str] = {}
    prev, seq, fast, fast_key_id = walk.prev, walk.seq, 0, ""
    for batch in batches:
        for row in batch:
            agency_id, n, actor, action, otype, oid, data, created, prev_hash, digest, key_id = row
            hasher = hashers.get(key_id)
            if n == seq and prev_hash == prev and hasher is not None and n not in anchored:
                iso = isos.get(created)
                if iso is None:
                    if len(isos) > 4096:
                        isos.clear()
                    iso = isos[created] = iso_of(created)
                # json.loads (JSONField.from_db_value) without its Python-level steps: the C
                # scanner on the whole text; anything else (whitespace around the value, not
                # JSON text, not a str) is left to the ORM walk.
                try:
                    value, end = scan(data, 0)
                    data_json = encode(value) if end == len(data) else None
                except (StopIteration, TypeError, ValueError):
                    data_json = None
                # hashing.hashed_body written out (a test compares); == on a match only,
                # a mismatch is judged (with compare_digest) by _Walk.check.
                if (
                    data_json is not None
                    and hasher(
                        f'{prev_hash}{{"action":{string(action)},"actor":{string(actor)},'
                        f'"agency":{agency_id},"created_at":{string(iso)},'
                        f'"data":{data_json},"key_id":{string(key_id)},'
                        f'"object_id":{string(oid)},"object_type":{string(otype)},'
                        f'"seq":{n}}}'.encode()
                    )
                    == digest
                ):
                    prev, seq, fast, fast_key_id = digest, n + 1, fast + 1, key_id
                    continue
            _sync(walk, prev, seq, fast, fast_key_id)
            prev, seq, fast = walk.prev, walk.seq, 0
            if (report := walk.check(convert(row))) is not None:
                return report
            prev, seq = walk.prev, walk.seq
    _sync(walk, prev, seq, fast, fast_key_id)
    return None


def _sync(walk: _Walk, prev: str, seq: int, fast: int, key_id: str) -> None:
    """Record in `walk` what the fast loop accepted since the last call (what _Walk.check
    would have recorded for those events)."""
    walk.prev, walk.seq = prev, seq
    if fast:
        walk.checked += fast
        walk.seen_keyed, walk.key_id = True, key_id


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
    return chain_walk(agency, anchors=anchors, batch_size=batch_size)
