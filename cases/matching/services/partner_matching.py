"""Matching new evidence against the signals of subscribed partners' banks.

The partner signals of an agency are one PDQ index under the PartnerSignal ids
(cases.matching.pdq.mutable.MutablePdqIndex), built once per process and then updated with
only the signals a fetched page added, replaced or deleted; SHA-256 and MD5 are exact
lookups in the database. A match is recorded once per (evidence, partner, signal) with the
partner, the distance and the partner's labels, and audited as "evidence.partner_matched"."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
from django.db import transaction
from django.db.models import Count, Max, QuerySet

from cases.evidence.models import Evidence
from cases.evidence.services.evidence import evidence_open
from cases.kernel.audit.services import audit_record
from cases.matching.models import PartnerMatch, PartnerMatchKind, PartnerSignal
from cases.matching.pdq.hashes import MATCH_DISTANCE
from cases.matching.pdq.mutable import MutablePdqIndex

PARTNER_CACHE_SIZE = 4


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


def partner_cache_clear() -> None:
    with _lock:
        _cache.clear()


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
) -> dict[int, tuple[str, int]]:
    """{PartnerSignal id: (kind, distance)} of the agency's partner signals that match the
    item: the same SHA-256 or MD5 (distance 0), or a PDQ hash within max_distance."""
    signals = PartnerSignal.objects.filter(agency_id=evidence.agency_id, subscription__active=True)
    if not signals.exists():
        return {}
    found: dict[int, tuple[str, int]] = {}
    if queries:
        index = partner_index_for(agency_id=evidence.agency_id)
        for signal_pk, distance in index.query_many(list(queries), max_distance):
            found[signal_pk] = (PartnerMatchKind.PDQ, distance)
    for signal_pk in signals.filter(sha256=evidence.sha256).values_list("pk", flat=True):
        found[signal_pk] = (PartnerMatchKind.SHA256, 0)
    md5 = _md5_of(evidence)
    if md5:
        for signal_pk in signals.filter(md5=md5).values_list("pk", flat=True):
            found.setdefault(signal_pk, (PartnerMatchKind.MD5, 0))
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
        for signal_pk, (kind, distance) in sorted(found.items(), key=lambda item: item[1][1]):
            signal = signals.get(signal_pk)
            if signal is None:  # withdrawn since the index was built
                continue
            match, was_created = PartnerMatch.objects.get_or_create(
                evidence=evidence,
                subscription=signal.subscription,
                signal_id=signal.signal_id,
                defaults={
                    "agency_id": evidence.agency_id,
                    "kind": kind,
                    "distance": distance,
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
                            "labels": m.labels,
                        }
                        for m in created
                    ]
                },
            )
    return created
