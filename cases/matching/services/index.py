"""The per-agency PDQ index, built from the database on demand and cached in the process.

An agency's index holds all hashes of its fingerprints of good quality (an image's whole
picture and standard crops, a video's keyframes) under their evidence ids. It is rebuilt when
the agency's set of fingerprints changed (one aggregate query tells); a process keeps the
indexes of the few agencies it served last."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
from django.db.models import Count, Max

from cases.matching.models import PdqFingerprint
from cases.matching.pdq.hashes import HASH_BYTES, LOW_QUALITY
from cases.matching.pdq.index import PdqIndex

log = logging.getLogger(__name__)

# Agencies whose index stays in memory per process (LRU); one index of 100,000 items with
# their crop hashes (a million hashes) takes about 110 MB.
INDEX_CACHE_SIZE = 4


@dataclass
class _CachedIndex:
    key: tuple[object, ...]
    index: PdqIndex


_cache: OrderedDict[int, _CachedIndex] = OrderedDict()
_cache_lock = threading.Lock()


def _index_key(agency_id: int) -> tuple[object, ...]:
    """What identifies the agency's current set of fingerprints, in one aggregate query.
    The count as well as the newest id, because ids are allocated before commit (a lower id
    can appear after the index was built); the newest time as well, because a restored or
    rolled-back database can reuse ids."""
    stats = PdqFingerprint.objects.filter(agency_id=agency_id).aggregate(
        newest=Max("id"), rows=Count("id"), latest=Max("created_at")
    )
    return stats["newest"] or 0, stats["rows"], stats["latest"]


def matching_index_build(*, agency_id: int) -> PdqIndex:
    """The agency's index from the database: every fingerprint of quality >= LOW_QUALITY,
    all its hashes under its evidence id. One query; no per-item Python objects kept."""
    rows = (
        PdqFingerprint.objects.filter(agency_id=agency_id, quality__gte=LOW_QUALITY)
        .order_by()
        .values_list("evidence_id", "count", "hashes")
    )
    ids: list[int] = []
    counts: list[int] = []
    blobs: list[bytes] = []
    for evidence_id, count, blob in rows.iterator(chunk_size=5000):
        raw = bytes(blob)
        if len(raw) != count * HASH_BYTES:
            log.error("PDQ fingerprint of evidence %s is malformed; skipped", evidence_id)
            continue
        ids.append(evidence_id)
        counts.append(count)
        blobs.append(raw)
    hashes = np.frombuffer(b"".join(blobs), dtype=np.uint8).reshape(-1, HASH_BYTES)
    item_ids = np.repeat(np.asarray(ids, dtype=np.int64), np.asarray(counts, dtype=np.int64))
    return PdqIndex.build(item_ids, hashes)


def matching_index_for(*, agency_id: int) -> PdqIndex:
    """The agency's index, rebuilt when a fingerprint was added or replaced since."""
    key = _index_key(agency_id)
    with _cache_lock:
        cached = _cache.get(agency_id)
        if cached is not None and cached.key == key:
            _cache.move_to_end(agency_id)
            return cached.index
    index = matching_index_build(agency_id=agency_id)
    with _cache_lock:
        _cache[agency_id] = _CachedIndex(key, index)
        _cache.move_to_end(agency_id)
        while len(_cache) > INDEX_CACHE_SIZE:
            _cache.popitem(last=False)
    return index


def matching_cache_clear() -> None:
    with _cache_lock:
        _cache.clear()
