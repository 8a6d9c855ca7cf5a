"""The per-agency PDQ indexes, built from the database on demand and cached in the process.

An agency's index holds all hashes of its fingerprints of good quality (an image's whole
picture and standard crops, a video's keyframes) under their evidence ids. Its frame index
holds the frames of its videos' vPDQ frame sets (VpdqFingerprint.hashes), under their
evidence ids, for matching_find_frame_sets. Each is rebuilt when the agency's set of such
fingerprints changed (one aggregate query tells); a process keeps the indexes of the few
agencies it served last."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from django.db.models import Count, Max

from cases.matching.models import PdqFingerprint, VpdqFingerprint
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


class IndexCache:
    """The indexes of the `size` agencies served last, each under the key of the rows it
    was built from (a new key: built again)."""

    def __init__(self, size: int = INDEX_CACHE_SIZE) -> None:
        self.size = size
        self._items: OrderedDict[int, _CachedIndex] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self, agency_id: int, key: tuple[object, ...], build: Callable[[], PdqIndex]
    ) -> PdqIndex:
        with self._lock:
            cached = self._items.get(agency_id)
            if cached is not None and cached.key == key:
                self._items.move_to_end(agency_id)
                return cached.index
        index = build()
        with self._lock:
            self._items[agency_id] = _CachedIndex(key, index)
            self._items.move_to_end(agency_id)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return index

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


_cache = IndexCache()
_frame_cache = IndexCache()


def _index_key(
    agency_id: int, model: type[PdqFingerprint] | type[VpdqFingerprint] = PdqFingerprint
) -> tuple[object, ...]:
    """What identifies the agency's current set of fingerprints, in one aggregate query.
    The count as well as the newest id, because ids are allocated before commit (a lower id
    can appear after the index was built); the newest time as well, because a restored or
    rolled-back database can reuse ids."""
    stats = model.objects.filter(agency_id=agency_id).aggregate(
        newest=Max("id"), rows=Count("id"), latest=Max("created_at")
    )
    return stats["newest"] or 0, stats["rows"], stats["latest"]


def index_of(rows: Iterable[tuple[int, int | None, bytes]], what: str) -> PdqIndex:
    """An index of (evidence id, number of hashes or None, packed hashes) rows: every hash
    under its evidence id. A blob whose length does not fit is logged and skipped."""
    ids: list[int] = []
    counts: list[int] = []
    blobs: list[bytes] = []
    for evidence_id, count, blob in rows:
        raw = bytes(blob)
        fits = len(raw) == count * HASH_BYTES if count is not None else not len(raw) % HASH_BYTES
        if not fits:
            log.error("%s fingerprint of evidence %s is malformed; skipped", what, evidence_id)
            continue
        ids.append(evidence_id)
        counts.append(len(raw) // HASH_BYTES)
        blobs.append(raw)
    hashes = np.frombuffer(b"".join(blobs), dtype=np.uint8).reshape(-1, HASH_BYTES)
    item_ids = np.repeat(np.asarray(ids, dtype=np.int64), np.asarray(counts, dtype=np.int64))
    return PdqIndex.build(item_ids, hashes)


def matching_index_build(*, agency_id: int) -> PdqIndex:
    """The agency's index from the database: every fingerprint of quality >= LOW_QUALITY,
    all its hashes under its evidence id. One query; no per-item Python objects kept."""
    rows = (
        PdqFingerprint.objects.filter(agency_id=agency_id, quality__gte=LOW_QUALITY)
        .order_by()
        .values_list("evidence_id", "count", "hashes")
    )
    return index_of(rows.iterator(chunk_size=5000), "PDQ")


def matching_index_for(*, agency_id: int) -> PdqIndex:
    """The agency's index, rebuilt when a fingerprint was added or replaced since."""
    return _cache.get(
        agency_id, _index_key(agency_id), lambda: matching_index_build(agency_id=agency_id)
    )


def matching_frame_index_build(*, agency_id: int) -> PdqIndex:
    """The agency's frame index: the match-set frames of every vPDQ fingerprint (quality 50
    or more, distinct within the video), under its evidence id. One query."""
    rows = (
        VpdqFingerprint.objects.filter(agency_id=agency_id)
        .order_by()
        .values_list("evidence_id", "hashes")
    )
    return index_of(
        ((evidence_id, None, blob) for evidence_id, blob in rows.iterator(chunk_size=2000)),
        "vPDQ",
    )


def matching_frame_index_for(*, agency_id: int) -> PdqIndex:
    """The agency's frame index, rebuilt when a vPDQ fingerprint was added or replaced."""
    return _frame_cache.get(
        agency_id,
        _index_key(agency_id, VpdqFingerprint),
        lambda: matching_frame_index_build(agency_id=agency_id),
    )


def matching_cache_clear() -> None:
    _cache.clear()
    _frame_cache.clear()


def frame_set_of(*, evidence_id: int) -> npt.NDArray[np.uint8] | None:
    """The stored vPDQ match set of one evidence item as an (n, 32) matrix (n may be 0: no
    frame of quality); None when the item has no frame set (not a video, or hashed without
    vpdq)."""
    mine = VpdqFingerprint.objects.filter(evidence_id=evidence_id).only("hashes").first()
    if mine is None:
        return None
    return np.frombuffer(bytes(mine.hashes), dtype=np.uint8).reshape(-1, HASH_BYTES)
