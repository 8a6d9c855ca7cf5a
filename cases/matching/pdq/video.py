"""vPDQ, Meta's video PDQ: a video hashed as one PDQ hash per second of video, matched
frame-set to frame-set. Pure (numpy and the `vpdq` package; no ORM).

`vpdq` (Meta's maintained implementation, built against FFmpeg; what the Hasher-Matcher-
Actioner uses through python-threatexchange) comes with the detection extra. Without it
`vpdq_hash_file` raises VpdqUnavailable and the caller falls back to 8 sampled keyframes
(docs/matching.md, "Videos").

Matching follows python-threatexchange's `threatexchange.extensions.vpdq` (vpdq_util.py,
vpdq_brute_matcher.py, VPDQSignal.compare_hash): drop frames of quality below 50, keep one
frame per distinct hash, count a frame of one video as matched when some frame of the other
is within 31 bits, and give the share of matched frames on each side. HMA calls the pair a
match when the query's share is at least 80% and the compared video's at least 0%. Our pairs
have no fixed query side (either video may be hashed first), so a pair matches when HMA's rule
holds with either video as the query: the decision does not depend on the order of ingest."""

from __future__ import annotations

import math
import re
import threading
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cases.matching.pdq.hashes import HASH_BYTES, hamming_distances, hashes_from_hex
from cases.matching.pdq.index import PdqIndex

# python-threatexchange 1.2.x, threatexchange/extensions/vpdq/vpdq_util.py:
VPDQ_QUALITY_THRESHOLD = 50  # frames below this quality are not compared
VPDQ_DISTANCE_THRESHOLD = 31  # two frames match at this PDQ distance or less
VPDQ_QUERY_MATCH_PERCENT = 80.0  # share of the query's frames found in the other video
VPDQ_COMPARED_MATCH_PERCENT = 0.0  # share of the compared video's frames (HMA: any)
# HMA's default sampling: one hash per second of video.
VPDQ_SECONDS_PER_HASH = 1.0


class VpdqUnavailable(RuntimeError):
    """The `vpdq` package is not installed (or does not load)."""


class VpdqError(ValueError):
    """A video that vPDQ cannot hash (unreadable, no video stream)."""


@dataclass(frozen=True)
class VpdqFrame:
    """One vPDQ feature: a sampled frame's PDQ hash (64 hex digits), its quality (0-100),
    frame number and time in seconds."""

    frame_number: int
    pdq_hex: str
    quality: int
    timestamp: float

    def as_json(self) -> list[object]:
        return [self.frame_number, self.pdq_hex, self.quality, round(self.timestamp, 3)]

    @classmethod
    def from_json(cls, row: Sequence[object]) -> VpdqFrame:
        frame_number, pdq_hex, quality, timestamp = row
        return cls(int(str(frame_number)), str(pdq_hex), int(str(quality)), float(str(timestamp)))


# python-threatexchange's VpdqCompactFeature string (vpdq_util.py `__str__` / `from_str`):
# "<64 hex>,<quality>,<seconds>", the seconds written as `f"{t:.3}"` (three significant
# digits). A VPDQSignal's signal string is the JSON list of these; the exchange feed's `vpdq`
# field carries the same strings, so a platform passes them on unchanged.
_COMPACT = re.compile(r"^([0-9a-f]{64}),([0-9]{1,3}),([0-9.e+-]{1,24})$")


def vpdq_compact(frame: VpdqFrame) -> str:
    """The frame as threatexchange's VpdqCompactFeature writes it."""
    return f"{frame.pdq_hex},{frame.quality},{frame.timestamp:.3}"


def vpdq_compact_parse(serialized: object) -> VpdqFrame:
    """A VpdqCompactFeature string back to a frame (its frame number is not carried: 0).
    ValueError unless it is 64 lowercase hex digits, a quality of 0 to 100 and a finite
    time of 0 or more seconds."""
    found = _COMPACT.match(serialized) if isinstance(serialized, str) else None
    try:
        seconds = float(found[3]) if found else -1.0
    except ValueError:  # "1.2.3", "e"
        seconds = -1.0
    if found is None or int(found[2]) > 100 or not 0 <= seconds < math.inf:
        raise ValueError(f"not a vPDQ feature: {str(serialized)[:100]!r}")
    return VpdqFrame(0, found[1], int(found[2]), seconds)


def vpdq_publishable(frames: Sequence[VpdqFrame]) -> list[VpdqFrame]:
    """The frames matching compares (quality 50 or more, the first of each distinct hash):
    what HMA keeps of a VPDQSignal before comparing (quality_filter, dedupe), so sharing only
    these gives a partner the same shares as the whole frame set."""
    kept: dict[str, VpdqFrame] = {}
    for frame in frames:
        if frame.quality >= VPDQ_QUALITY_THRESHOLD:
            kept.setdefault(frame.pdq_hex, frame)
    return list(kept.values())


def vpdq_available() -> bool:
    try:
        import vpdq  # noqa: F401
    except ImportError:
        return False
    return True


def vpdq_hash_file(path: str | Path) -> list[VpdqFrame]:
    """The vPDQ hash of a video file: one feature per second of video, in time order.
    Raises VpdqUnavailable without the package, VpdqError for a video it cannot read."""
    try:
        import vpdq
    except ImportError as exc:
        raise VpdqUnavailable(f"the vpdq package is not installed: {exc}") from exc
    try:
        features = vpdq.computeHash(str(path), seconds_per_hash=VPDQ_SECONDS_PER_HASH)
    except Exception as exc:  # the binding raises a bare Exception on any decoding failure
        raise VpdqError(f"vPDQ could not hash the video: {exc}") from exc
    return [
        VpdqFrame(int(f.frame_number), str(f.hex), int(f.quality), float(f.timestamp))
        for f in features
    ]


def vpdq_match_set(frames: Sequence[VpdqFrame]) -> np.ndarray:
    """What matching compares, as an (n, 32) uint8 matrix: the frames of quality 50 or more,
    one per distinct hash (HMA's quality_filter and dedupe)."""
    kept = vpdq_publishable(frames)
    if not kept:
        return np.empty((0, HASH_BYTES), dtype=np.uint8)
    return hashes_from_hex(frame.pdq_hex for frame in kept)


@dataclass(frozen=True)
class VpdqComparison:
    """Two frame sets compared: the share (percent) of each side's frames within 31 bits of
    some frame of the other, and the smallest frame distance between them."""

    query_percent: float
    compared_percent: float
    distance: int

    @property
    def is_match(self) -> bool:
        """HMA's rule with either video as the query."""
        return (
            self.query_percent >= VPDQ_QUERY_MATCH_PERCENT
            and self.compared_percent >= VPDQ_COMPARED_MATCH_PERCENT
        ) or (
            self.compared_percent >= VPDQ_QUERY_MATCH_PERCENT
            and self.query_percent >= VPDQ_COMPARED_MATCH_PERCENT
        )


def vpdq_compare(query: np.ndarray, compared: np.ndarray) -> VpdqComparison | None:
    """Compare two match sets (vpdq_match_set); None when either is empty (nothing of
    quality to compare) or no frame pair is within the threshold."""
    if not len(query) or not len(compared):
        return None
    distances = np.stack([hamming_distances(compared, row) for row in query])
    close = distances <= VPDQ_DISTANCE_THRESHOLD
    if not close.any():
        return None
    return VpdqComparison(
        query_percent=float(close.any(axis=1).sum()) * 100 / len(query),
        compared_percent=float(close.any(axis=0).sum()) * 100 / len(compared),
        distance=int(distances[close].min()),
    )


# Frames per video of each frame index, counted once per index (an index never changes).
_counts: weakref.WeakKeyDictionary[PdqIndex, dict[int, int]] = weakref.WeakKeyDictionary()
_counts_lock = threading.Lock()


def _frame_counts(index: PdqIndex) -> dict[int, int]:
    with _counts_lock:
        counts = _counts.get(index)
    if counts is None:
        unique_ids, frame_counts = np.unique(index.ids, return_counts=True)
        counts = dict(zip(unique_ids.tolist(), frame_counts.tolist(), strict=True))
        with _counts_lock:
            _counts[index] = counts
    return counts


def vpdq_match_in_index(
    query: np.ndarray, index: PdqIndex, *, exclude: int | None = None
) -> list[tuple[int, VpdqComparison]]:
    """[(video id, comparison)] of the videos in `index` (their match sets' frames under
    their ids) whose frame sets match the query's by HMA's rule, best first (the higher of
    the smaller share, then the smaller distance). As python-threatexchange's VPDQIndex does
    with FAISS: each query frame asks the index for every frame within 31 bits, and the
    distinct frames matched on each side give the shares. Exact: the same numbers as
    vpdq_compare on every pair."""
    query_hits: dict[int, set[int]] = {}
    stored_hits: dict[int, set[int]] = {}
    nearest: dict[int, int] = {}
    for position, row in enumerate(query):
        rows, distances = index.matches(row, VPDQ_DISTANCE_THRESHOLD)
        for stored_row, item_id, distance in zip(
            rows.tolist(), index.ids[rows].tolist(), distances.tolist(), strict=True
        ):
            if item_id == exclude:
                continue
            query_hits.setdefault(item_id, set()).add(position)
            stored_hits.setdefault(item_id, set()).add(stored_row)
            nearest[item_id] = min(distance, nearest.get(item_id, distance))
    if not query_hits:
        return []
    sizes = _frame_counts(index)
    found = []
    for item_id, positions in query_hits.items():
        comparison = VpdqComparison(
            query_percent=len(positions) * 100 / len(query),
            compared_percent=len(stored_hits[item_id]) * 100 / sizes[item_id],
            distance=nearest[item_id],
        )
        if comparison.is_match:
            found.append((item_id, comparison))
    found.sort(
        key=lambda item: (
            -min(item[1].query_percent, item[1].compared_percent),
            item[1].distance,
            item[0],
        )
    )
    return found
