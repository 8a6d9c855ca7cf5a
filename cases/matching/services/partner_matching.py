"""Matching new evidence against the signals of subscribed partners' banks.

The partner signals of an agency are one PDQ index under the PartnerSignal ids
(cases.matching.pdq.mutable.MutablePdqIndex), built once per process and then updated with
only the signals a fetched page added, replaced or deleted; SHA-256 and MD5 are exact
lookups in the database. Partner videos' vPDQ frame sets are a second index (their frames
under the PartnerSignal ids, rebuilt when the partner signals changed) that a video with a
frame set of its own is matched against frame-set to frame-set, with the same code and HMA
rule as the agency's own videos (cases.matching.pdq.video.vpdq_match_in_index); such a
video is then never matched to a partner video with a frame set by one shared keyframe.
A match is recorded once per (evidence, partner, signal) with the partner, the distance
(for vPDQ also the share of each side's frames found in the other) and the partner's
labels, and audited as "evidence.partner_matched"."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from django.db import transaction
from django.db.models import Count, Max, QuerySet

from cases.evidence.models import Evidence
from cases.evidence.services.evidence import evidence_open
from cases.kernel.audit.services import audit_record
from cases.matching.models import PartnerMatch, PartnerMatchKind, PartnerSignal
from cases.matching.pdq.hashes import MATCH_DISTANCE
from cases.matching.pdq.index import PdqIndex
from cases.matching.pdq.mutable import MutablePdqIndex
from cases.matching.pdq.video import (
    VpdqComparison,
    vpdq_compact_parse,
    vpdq_match_in_index,
    vpdq_match_set,
)
from cases.matching.services.index import IndexCache, frame_set_of, index_of

log = logging.getLogger(__name__)

PARTNER_CACHE_SIZE = 4


class PartnerHit(NamedTuple):
    """How an item matched one partner signal: kind (a PartnerMatchKind value), distance,
    and for vPDQ the comparison of the two frame sets (query: our item)."""

    kind: str
    distance: int
    frames: VpdqComparison | None = None


@dataclass
class _Cached:
    key: tuple[object, ...]
    index: MutablePdqIndex
    ids: set[int]
    latest: datetime | None


_cache: OrderedDict[int, _Cached] = OrderedDict()
_lock = threading.Lock()


def _signals(agency_id: int) -> QuerySet[PartnerSignal]:
    return PartnerSignal.objects.filter(agency_id=agency_id, subscription__active=True)


def _key(agency_id: int) -> tuple[object, ...]:
    stats = _signals(agency_id).aggregate(
        newest=Max("id"), rows=Count("id"), latest=Max("fetched_at")
    )
    return stats["newest"] or 0, stats["rows"], stats["latest"]


def _latest(key: tuple[object, ...]) -> datetime | None:
    latest = key[2]
    return latest if isinstance(latest, datetime) else None


def _rows(
    signals: QuerySet[PartnerSignal],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.uint8]]:
    ids: list[int] = []
    hashes: list[bytes] = []
    for signal_pk, pdq in signals.order_by().values_list("pk", "pdq").iterator(chunk_size=5000):
        for hex_hash in pdq:
            ids.append(signal_pk)
            hashes.append(bytes.fromhex(hex_hash))
    matrix = np.frombuffer(b"".join(hashes), dtype=np.uint8).reshape(-1, 32)
    return np.asarray(ids, dtype=np.int64), matrix


def partner_index_build(*, agency_id: int) -> MutablePdqIndex:
    """The agency's partner signals as one index (ids: PartnerSignal ids), from scratch."""
    return MutablePdqIndex.build(*_rows(_signals(agency_id)))


def _update(cached: _Cached, agency_id: int, key: tuple[object, ...]) -> None:
    """Bring a cached index up to the database with the rows that changed: a fetched page
    adds or replaces a few signals and deletes some; the rest of the index stays."""
    live = set(_signals(agency_id).values_list("pk", flat=True))
    changed = set(live - cached.ids)
    if cached.latest is not None:
        changed |= set(
            _signals(agency_id).filter(fetched_at__gte=cached.latest).values_list("pk", flat=True)
        )
    stale = (cached.ids - live) | (changed & cached.ids)
    if stale:
        cached.index.remove(sorted(stale))
    if changed:
        cached.index.add(*_rows(_signals(agency_id).filter(pk__in=changed)))
    cached.key, cached.ids, cached.latest = key, live, _latest(key)


def partner_index_for(*, agency_id: int) -> MutablePdqIndex:
    """The agency's partner index: built once per process, then updated incrementally
    (cases.matching.pdq.mutable) when its partner signals changed."""
    key = _key(agency_id)
    with _lock:
        cached = _cache.get(agency_id)
        if cached is not None:
            _cache.move_to_end(agency_id)
            if cached.key != key:
                _update(cached, agency_id, key)
            return cached.index
    index = partner_index_build(agency_id=agency_id)
    live = set(_signals(agency_id).values_list("pk", flat=True))
    with _lock:
        _cache[agency_id] = _Cached(key, index, live, _latest(key))
        while len(_cache) > PARTNER_CACHE_SIZE:
            _cache.popitem(last=False)
    return index


_frame_cache = IndexCache(PARTNER_CACHE_SIZE)


def _match_sets(agency_id: int) -> Iterator[tuple[int, None, bytes]]:
    """(signal id, None, packed match set) of each partner video signal. A stored frame set
    that no longer parses is skipped and logged (pages are checked before they are stored)."""
    rows = _signals(agency_id).order_by().values_list("pk", "vpdq").iterator(chunk_size=2000)
    for signal_pk, features in rows:
        if not features:
            continue
        try:
            match_set = vpdq_match_set([vpdq_compact_parse(f) for f in features])
        except ValueError as exc:
            log.error("partner signal %s: vPDQ frames malformed, skipped: %s", signal_pk, exc)
            continue
        yield signal_pk, None, match_set.tobytes()


def partner_frame_index_build(*, agency_id: int) -> PdqIndex:
    """The frames of the agency's partner vPDQ signals (those matching compares: quality 50
    or more, one per distinct hash) under their PartnerSignal ids."""
    return index_of(_match_sets(agency_id), "partner vPDQ")


def partner_frame_index_for(*, agency_id: int) -> PdqIndex:
    """The agency's partner frame index, rebuilt when its partner signals changed (partner
    video signals are few next to the PDQ hashes, so no incremental update)."""
    return _frame_cache.get(
        agency_id, _key(agency_id), lambda: partner_frame_index_build(agency_id=agency_id)
    )


def partner_cache_clear() -> None:
    with _lock:
        _cache.clear()
    _frame_cache.clear()


def _frame_set_hits(evidence: Evidence) -> dict[int, PartnerHit] | None:
    """{signal id: hit} of the partner videos whose frame sets match the item's; None when
    the item has no frame set (not a video, or hashed without vpdq)."""
    query = frame_set_of(evidence_id=evidence.pk)
    if query is None:
        return None
    if not len(query):
        return {}
    index = partner_frame_index_for(agency_id=evidence.agency_id)
    return {
        signal_pk: PartnerHit(PartnerMatchKind.VPDQ, comparison.distance, comparison)
        for signal_pk, comparison in vpdq_match_in_index(query, index)
    }


def _md5_of(evidence: Evidence) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with evidence_open(evidence) as handle:
            for chunk in iter(lambda: handle.read(1024 * 1024), b""):
                digest.update(chunk)
    except OSError:
        return ""
    return digest.hexdigest()


def partner_matches_find(
    *, evidence: Evidence, queries: Sequence[str] = (), max_distance: int = MATCH_DISTANCE
) -> dict[int, PartnerHit]:
    """{PartnerSignal id: hit} of the agency's partner signals that match the item: the same
    SHA-256 or MD5 (distance 0), a video's vPDQ frame set by HMA's rule, or a PDQ hash within
    max_distance. A video with a frame set is matched to a partner video with one only
    frame-set to frame-set, never by a single keyframe (as between the agency's own videos)."""
    signals = _signals(evidence.agency_id)
    if not signals.exists():
        return {}
    found: dict[int, PartnerHit] = {}
    if queries:
        index = partner_index_for(agency_id=evidence.agency_id)
        for signal_pk, distance in index.query_many(list(queries), max_distance):
            found[signal_pk] = PartnerHit(PartnerMatchKind.PDQ, distance)
    frame_hits = _frame_set_hits(evidence)
    if frame_hits is not None:
        if found:
            framed = set(
                signals.filter(pk__in=list(found)).exclude(vpdq=[]).values_list("pk", flat=True)
            )
            found = {pk: hit for pk, hit in found.items() if pk not in framed}
        found.update(frame_hits)
    for signal_pk in signals.filter(sha256=evidence.sha256).values_list("pk", flat=True):
        found[signal_pk] = PartnerHit(PartnerMatchKind.SHA256, 0)
    md5 = _md5_of(evidence)
    if md5:
        for signal_pk in signals.filter(md5=md5).values_list("pk", flat=True):
            if found.get(signal_pk, PartnerHit("", 1)).distance > 0:
                found[signal_pk] = PartnerHit(PartnerMatchKind.MD5, 0)
    return found


def partner_matches_record(
    *, evidence: Evidence, queries: Sequence[str] = ()
) -> list[PartnerMatch]:
    """Record the item's new partner matches (audit "evidence.partner_matched")."""
    found = partner_matches_find(evidence=evidence, queries=queries)
    if not found:
        return []
    signals = {
        s.pk: s
        for s in PartnerSignal.objects.filter(
            agency_id=evidence.agency_id, pk__in=list(found)
        ).select_related("subscription")
    }
    created: list[PartnerMatch] = []
    with transaction.atomic():
        for signal_pk, hit in sorted(found.items(), key=lambda item: item[1].distance):
            signal = signals.get(signal_pk)
            if signal is None:  # withdrawn since the index was built
                continue
            match, was_created = PartnerMatch.objects.get_or_create(
                evidence=evidence,
                subscription=signal.subscription,
                signal_id=signal.signal_id,
                defaults={
                    "agency_id": evidence.agency_id,
                    "kind": hit.kind,
                    "distance": hit.distance,
                    "evidence_frames_percent": hit.frames.query_percent if hit.frames else None,
                    "signal_frames_percent": hit.frames.compared_percent if hit.frames else None,
                    "labels": signal.labels,
                },
            )
            if was_created:
                created.append(match)
        if created:
            audit_record(
                agency=evidence.agency,
                actor=None,
                action="evidence.partner_matched",
                obj=evidence,
                data={
                    "matches": [
                        {
                            "partner": m.subscription.name,
                            "subscription": m.subscription_id,
                            "signal": m.signal_id,
                            "kind": m.kind,
                            "distance": m.distance,
                            "how": m.how,
                            "labels": m.labels,
                        }
                        for m in created
                    ]
                },
            )
    return created
