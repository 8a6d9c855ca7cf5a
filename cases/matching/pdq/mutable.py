"""An index that takes additions and deletions without a rebuild: an immutable main
`PdqIndex`, a small delta `PdqIndex` of the rows added since, and a tombstone mask over the
main rows that queries honour.

A partner feed's page of new hashes rebuilds only the delta (its cost grows with the delta,
not with the 10 million rows of the main index); a deletion (withdrawn consent, a reversed
verdict) marks the item's main rows dead and drops its delta rows. When the delta or the
dead rows pass `merge_share` of the main index (and `merge_min` rows), everything alive is
merged into a new main index, so queries never scan a large delta and memory is not held by
dead rows for long. Results are exactly those of a fresh `PdqIndex` over the live rows
(tests/matching/test_mutable_index.py checks it against the brute-force reference through
random additions, deletions, re-additions and merges).

Writers are serialised by a lock; each query reads one consistent snapshot (main, mask,
delta), so queries need no lock."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from cases.matching.pdq.hashes import HASH_BYTES, MATCH_DISTANCE
from cases.matching.pdq.index import (
    PdqIndex,
    _as_matrix,
    _check_distance,
    _query_row,
    best_matches,
)

# Merge when the delta (or the dead main rows) pass this share of the main index...
MERGE_SHARE = 0.05
# ... and this many rows: below it a delta is rebuilt in milliseconds anyway.
MERGE_MIN = 50_000


@dataclass(frozen=True)
class _Snapshot:
    main: PdqIndex
    alive: np.ndarray  # bool per main row; False: deleted
    dead: int
    delta: PdqIndex


def _empty() -> PdqIndex:
    return PdqIndex.build(np.zeros(0, dtype=np.int64), np.zeros((0, HASH_BYTES), dtype=np.uint8))


def _rows_of(ids: np.ndarray, order: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Positions in `ids` (sorted by `order`) of every row whose id is in `wanted`."""
    sorted_ids = ids[order]
    starts = np.searchsorted(sorted_ids, wanted, side="left")
    lengths = np.searchsorted(sorted_ids, wanted, side="right") - starts
    keep = lengths > 0
    starts, lengths = starts[keep], lengths[keep]
    total = int(lengths.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    run_starts = np.cumsum(lengths) - lengths
    return order[np.repeat(starts - run_starts, lengths) + np.arange(total)]


class MutablePdqIndex:
    """`PdqIndex`'s queries, plus `add` and `remove` by item id (see the module docstring)."""

    def __init__(
        self,
        ids: np.ndarray | None = None,
        hashes: np.ndarray | None = None,
        *,
        merge_share: float = MERGE_SHARE,
        merge_min: int = MERGE_MIN,
    ) -> None:
        self.merge_share = merge_share
        self.merge_min = merge_min
        self.merges = 0
        self._lock = threading.Lock()
        if ids is None or hashes is None:
            ids, hashes = np.zeros(0, dtype=np.int64), np.zeros((0, HASH_BYTES), dtype=np.uint8)
        self._install_main(PdqIndex.build(ids, hashes))

    @classmethod
    def build(cls, ids: np.ndarray, hashes: np.ndarray, **options: float) -> MutablePdqIndex:
        return cls(ids, hashes, **options)  # type: ignore[arg-type]

    @classmethod
    def around(cls, main: PdqIndex, **options: float) -> MutablePdqIndex:
        """Updates on top of an index already built (no second build)."""
        index = cls(**options)  # type: ignore[arg-type]
        with index._lock:
            index._install_main(main)
        return index

    def _install_main(self, main: PdqIndex) -> None:
        self._main_order = np.argsort(main.ids, kind="stable")
        self._delta_ids = np.zeros(0, dtype=np.int64)
        self._delta_hashes = np.zeros((0, HASH_BYTES), dtype=np.uint8)
        self._snapshot = _Snapshot(main, np.ones(len(main), dtype=bool), 0, _empty())

    def __len__(self) -> int:
        snapshot = self._snapshot
        return len(snapshot.main) - snapshot.dead + len(snapshot.delta)

    @property
    def delta_size(self) -> int:
        return len(self._snapshot.delta)

    @property
    def dead_rows(self) -> int:
        return self._snapshot.dead

    @property
    def nbytes(self) -> int:
        snapshot = self._snapshot
        return (
            snapshot.main.nbytes
            + snapshot.alive.nbytes
            + self._main_order.nbytes
            + snapshot.delta.nbytes
        )

    def add(self, ids: np.ndarray, hashes: np.ndarray) -> None:
        """Add rows (an id can have many hashes, and can be one added or deleted before)."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        matrix = _as_matrix(hashes)
        if len(ids) != len(matrix):
            raise ValueError("ids and hashes differ in length")
        with self._lock:
            self._delta_ids = np.concatenate([self._delta_ids, ids])
            self._delta_hashes = np.concatenate([self._delta_hashes, matrix])
            self._publish_delta(self._snapshot.alive, self._snapshot.dead)

    def remove(self, ids: Iterable[int] | np.ndarray) -> int:
        """Delete every row of these item ids; returns how many rows went."""
        wanted = np.unique(np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids))
        wanted = wanted.astype(np.int64)
        with self._lock:
            snapshot = self._snapshot
            rows = _rows_of(snapshot.main.ids, self._main_order, wanted)
            rows = rows[snapshot.alive[rows]]
            alive = snapshot.alive
            if rows.size:
                alive = alive.copy()  # queries in flight keep reading the old mask
                alive[rows] = False
            keep = ~np.isin(self._delta_ids, wanted)
            removed = int(rows.size) + int((~keep).sum())
            self._delta_ids, self._delta_hashes = self._delta_ids[keep], self._delta_hashes[keep]
            self._publish_delta(alive, snapshot.dead + int(rows.size))
        return removed

    def merge(self) -> None:
        """Fold the delta into a new main index and drop the dead rows."""
        with self._lock:
            self._merge()

    def _merge(self) -> None:
        snapshot = self._snapshot
        ids = np.concatenate([snapshot.main.ids[snapshot.alive], self._delta_ids])
        hashes = np.concatenate([snapshot.main.hashes[snapshot.alive], self._delta_hashes])
        self._install_main(PdqIndex.build(ids, hashes))
        self.merges += 1

    def _publish_delta(self, alive: np.ndarray, dead: int) -> None:
        main = self._snapshot.main
        limit = max(self.merge_min, self.merge_share * len(main))
        if len(self._delta_ids) > limit or dead > limit:
            self._snapshot = _Snapshot(main, alive, dead, self._snapshot.delta)
            self._merge()
            return
        delta = PdqIndex.build(self._delta_ids, self._delta_hashes)
        self._snapshot = _Snapshot(main, alive, dead, delta)

    def query(
        self, query: str | bytes | np.ndarray, max_distance: int = MATCH_DISTANCE
    ) -> list[tuple[int, int]]:
        """[(id, distance)] of every live hash within max_distance, nearest first."""
        return self.query_many([query], max_distance)

    def query_many(
        self, queries: Iterable[str | bytes | np.ndarray], max_distance: int = MATCH_DISTANCE
    ) -> list[tuple[int, int]]:
        """Items within max_distance of ANY query, each once with its smallest distance."""
        _check_distance(max_distance)
        snapshot = self._snapshot
        found_ids, found_distances = [], []
        for query in queries:
            row = _query_row(query)
            rows, distances = snapshot.main.matches(row, max_distance)
            if snapshot.dead:
                live = snapshot.alive[rows]
                rows, distances = rows[live], distances[live]
            found_ids.append(snapshot.main.ids[rows])
            found_distances.append(distances)
            if len(snapshot.delta):
                rows, distances = snapshot.delta.matches(row, max_distance)
                found_ids.append(snapshot.delta.ids[rows])
                found_distances.append(distances)
        if not found_ids:
            return []
        return best_matches(np.concatenate(found_ids), np.concatenate(found_distances))
