"""Verifying an agency's audit chain: the walk in seq order against every anchor, naming the
first broken link (audit_chain_verify, and audit_anchor before it writes an anchor).

The events are read as raw driver rows, in batches from one ordered query (a server-side
cursor on PostgreSQL), and the plain case -- the next event, linked to the one before, keyed
with a configured key (or unkeyed where still allowed), matching its anchors -- is hashed
straight from those values (fastwalk.fast_loop; a long chain in parallel ranges whose links
are checked here in order). Every other event, and any whose hash does not match there, is
read again through the ORM and goes through _Walk.check, which decides and words the
verdict: the fast loop only ever accepts an event whose stored hash it has recomputed."""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from cases.kernel.audit import fastwalk
from cases.kernel.audit.anchors import AnchorRef, anchor_list, anchor_read
from cases.kernel.audit.fastwalk import Progress
from cases.kernel.audit.hashing import EVENT_ROW_COLUMNS, EventRow, event_hash
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
    batch_size: int = fastwalk.BATCH,
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
    # Without `since`, rows below #1 are read too (a forged #0 is a break, as before).
    bounded = since is not None
    if (report := _walk_events(walk, bounded, head[0] if head else None, batch_size)) is not None:
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


def _walk_raw(walk: _Walk, lo: int | None, hi: int | None, batch_size: int) -> ChainReport | None:
    """Check the events lo <= seq <= hi (None: no bound) from walk's state: the fast loop on
    raw rows, and every row it does not accept re-read through the ORM (Django's own
    conversion) and judged by _Walk.check. None when all are valid next links."""
    p = Progress(walk.prev, walk.seq, walk.seen_keyed, walk.key_id)
    found: list[ChainReport] = []

    def slow(row: tuple[Any, ...], p: Progress) -> bool:
        _sync(walk, p)
        # By seq (RAW_COLUMNS' first; unique in the agency). None: removed meanwhile, and
        # the next row shows the gap.
        values = (
            AuditEvent.objects.filter(agency=walk.agency, seq=row[0])
            .values_list(*EVENT_ROW_COLUMNS)
            .first()
        )
        if values is not None and (report := walk.check(EventRow._make(values))) is not None:
            found.append(report)
            return False
        p.prev, p.seq, p.seen_keyed, p.key_id = walk.prev, walk.seq, walk.seen_keyed, walk.key_id
        return True

    with fastwalk.read_scope():
        fastwalk.fast_loop(
            fastwalk.raw_batches(walk.agency.pk, lo, hi, batch_size),
            p,
            agency_id=walk.agency.pk,
            keys=walk.keys,
            anchored=walk.anchored,
            first_anchor=walk.anchors[0].seq if walk.anchors else None,
            legacy_ok=True,
            slow=slow,
        )
    if found:
        return found[0]
    _sync(walk, p)
    return None


def _sync(walk: _Walk, p: Progress) -> None:
    """Record in `walk` what the fast loop accepted since the last call (what _Walk.check
    would have recorded for those events); p.prev is set: the walk starts from a hash."""
    assert p.prev is not None
    walk.prev, walk.seq, walk.seen_keyed, walk.key_id = p.prev, p.seq, p.seen_keyed, p.key_id
    walk.checked += p.checked
    walk.matched += p.matched
    walk.legacy += p.legacy
    p.checked = p.matched = p.legacy = 0


def _walk_segments(
    walk: _Walk, bounded: bool, hi: int, workers: int, batch_size: int
) -> ChainReport | None:
    """Check walk.seq..hi in `workers` ranges hashed in parallel, then the links between
    them in order: a range accepted whole where its first row links to the state the walk
    has reached, else walked sequentially from that state to the range's end (the same
    report as one sequential walk)."""
    lo = walk.seq
    size = -(-(hi - lo + 1) // workers)
    tasks = [
        fastwalk.SegmentTask(
            walk.agency.pk,
            start,
            start if bounded or start > lo else None,
            min(start + size - 1, hi),
            batch_size,
            walk.keys,
            walk.anchored,
        )
        for start in range(lo, hi + 1, size)
    ]
    segments = fastwalk.pool_map(tasks, workers)
    if segments is None:
        return _walk_raw(walk, lo if bounded else None, hi, batch_size)
    for segment in segments:
        if segment.clean and segment.lo == walk.seq and segment.first_prev == walk.prev:
            assert segment.last_hash is not None
            walk.prev, walk.seq, walk.key_id = segment.last_hash, segment.hi + 1, segment.key_id
            walk.seen_keyed = True
            walk.checked += segment.checked
            walk.matched += segment.matched
        elif (report := _walk_raw(walk, segment.query_lo, segment.hi, batch_size)) is not None:
            return report
    return None


def _walk_events(walk: _Walk, bounded: bool, hi: int | None, batch_size: int) -> ChainReport | None:
    """walk.seq..hi: in parallel ranges for a long chain (AUDIT_VERIFY_WORKERS above 1,
    at least AUDIT_VERIFY_PARALLEL_MIN events), else in one sequential pass."""
    workers = int(getattr(settings, "AUDIT_VERIFY_WORKERS", 1) or 1)
    least = int(getattr(settings, "AUDIT_VERIFY_PARALLEL_MIN", 50_000))
    if hi is not None and workers > 1 and hi - walk.seq + 1 >= max(least, workers):
        return _walk_segments(walk, bounded, hi, workers, batch_size)
    return _walk_raw(walk, walk.seq if bounded else None, hi, batch_size)


def audit_chain_verify(*, agency: Agency, batch_size: int = fastwalk.BATCH) -> ChainReport:
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
