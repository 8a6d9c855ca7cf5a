"""The updatable index: additions, deletions, re-additions and merges give exactly what a
fresh build over the live rows gives (checked against the brute-force reference)."""

from __future__ import annotations

import numpy as np
import pytest

from cases.matching.pdq.hashes import MATCH_DISTANCE
from cases.matching.pdq.index import BruteForceIndex, PdqIndex
from cases.matching.pdq.mutable import MutablePdqIndex
from tests.matching.corpus import families, flip_random_bits


def _clustered(rng: np.random.Generator, n: int) -> np.ndarray:
    """Half random hashes, half near-duplicate families around a few seeds."""
    seeds = rng.integers(0, 256, size=(40, 32), dtype=np.uint8)
    return np.concatenate(
        [rng.integers(0, 256, size=(n - n // 2, 32), dtype=np.uint8), families(rng, seeds, n // 2)]
    )


class _Reference:
    """What the index should hold: id -> its hashes, queried by brute force."""

    def __init__(self) -> None:
        self.rows: dict[int, list[np.ndarray]] = {}

    def add(self, ids: np.ndarray, hashes: np.ndarray) -> None:
        for item_id, row in zip(ids.tolist(), hashes, strict=True):
            self.rows.setdefault(item_id, []).append(row)

    def remove(self, ids: list[int]) -> None:
        for item_id in ids:
            self.rows.pop(item_id, None)

    def index(self) -> BruteForceIndex:
        ids = [i for i, rows in self.rows.items() for _ in rows]
        hashes = [r for rows in self.rows.values() for r in rows]
        return BruteForceIndex.build(
            np.array(ids, dtype=np.int64), np.array(hashes, dtype=np.uint8).reshape(-1, 32)
        )


def _queries(rng: np.random.Generator, reference: _Reference, count: int) -> list[np.ndarray]:
    """Near copies of live rows (0-40 bits away) and random hashes."""
    live = [r for rows in reference.rows.values() for r in rows]
    picks = [live[i] for i in rng.integers(0, len(live), size=count)]
    near = flip_random_bits(rng, np.array(picks), rng.integers(0, 41, size=count))
    return [*near, *rng.integers(0, 256, size=(count // 4, 32), dtype=np.uint8)]


def _assert_same(index: MutablePdqIndex, reference: _Reference, queries: list[np.ndarray]):
    brute = reference.index()
    assert len(index) == len(brute)
    for query in queries:
        assert index.query(query) == brute.query(query)
    assert index.query_many(queries[:8]) == brute.query_many(queries[:8])


def test_random_additions_deletions_and_readds_match_a_fresh_build():
    rng = np.random.default_rng(13)
    hashes = _clustered(rng, 6_000)
    ids = rng.integers(0, 2_000, size=len(hashes))  # about 3 hashes per item
    reference = _Reference()
    reference.add(ids, hashes)
    index = MutablePdqIndex(ids, hashes, merge_share=0.1, merge_min=500)
    deleted: list[int] = []
    next_id = 2_000
    for step in range(14):
        action = step % 3
        if action == 0:  # a partner page: new items, more hashes for old ones, re-adds
            page_ids = np.concatenate(
                [
                    np.arange(next_id, next_id + 150),
                    rng.choice(list(reference.rows), size=50),
                    np.array(deleted[:40], dtype=np.int64),
                ]
            )
            next_id += 150
            del deleted[:40]
            page = flip_random_bits(
                rng,
                np.array([hashes[i] for i in rng.integers(0, len(hashes), size=len(page_ids))]),
                rng.integers(0, 20, size=len(page_ids)),
            )
            index.add(page_ids, page)
            reference.add(page_ids, page)
        elif action == 1:  # withdrawn signals, some of them only just added
            gone = rng.choice(list(reference.rows), size=120, replace=False).tolist()
            removed = index.remove(gone)
            assert removed == sum(len(reference.rows[i]) for i in gone)
            reference.remove(gone)
            deleted += gone
        else:
            assert index.remove([10**9]) == 0  # an unknown id is no error
        _assert_same(index, reference, _queries(rng, reference, 40))
    assert index.merges >= 1, "the sequence should have crossed the merge threshold"


def test_merge_keeps_results_identical():
    rng = np.random.default_rng(31)
    hashes = _clustered(rng, 4_000)
    ids = np.arange(len(hashes))
    index = MutablePdqIndex(ids[:3_000], hashes[:3_000], merge_min=10**6)
    index.add(ids[3_000:], hashes[3_000:])
    gone = rng.choice(3_500, size=300, replace=False)
    assert index.remove(gone) == 300
    assert index.delta_size == 1_000 - int((gone >= 3_000).sum()) and index.dead_rows > 0
    queries = list(
        flip_random_bits(rng, hashes[rng.integers(0, 4_000, 60)], rng.integers(0, 35, 60))
    )
    before = [index.query(q) for q in queries]
    index.merge()
    assert index.delta_size == 0 and index.dead_rows == 0 and index.merges == 1
    assert [index.query(q) for q in queries] == before
    # ... which are those of an index built from scratch over the live rows.
    live = ~np.isin(ids, gone)
    fresh = PdqIndex.build(ids[live], hashes[live])
    assert len(index) == len(fresh) == 3_700
    assert [fresh.query(q) for q in queries] == before


def test_a_delta_page_does_not_rebuild_the_main_index():
    rng = np.random.default_rng(5)
    hashes = rng.integers(0, 256, size=(5_000, 32), dtype=np.uint8)
    index = MutablePdqIndex(np.arange(5_000), hashes)
    main = index._snapshot.main
    index.add(np.array([7]), hashes[:1])
    index.remove([3])
    assert index._snapshot.main is main
    assert index.merges == 0


def test_a_readded_item_is_found_by_its_new_hash_only():
    rng = np.random.default_rng(2)
    old, new = rng.integers(0, 256, size=(2, 32), dtype=np.uint8)
    index = MutablePdqIndex(np.array([1, 2]), np.vstack([old, new]))
    index.remove([1])
    assert index.query(old) == []
    index.add(np.array([1]), new.reshape(1, 32))
    assert index.query(old) == []
    assert index.query(new) == [(1, 0), (2, 0)]


def test_ids_and_hashes_must_have_the_same_length():
    index = MutablePdqIndex()
    assert len(index) == 0 and index.query("00" * 32) == []
    with pytest.raises(ValueError, match="differ in length"):
        index.add(np.arange(3), np.zeros((2, 32), dtype=np.uint8))


@pytest.mark.parametrize("max_distance", [0, 8, MATCH_DISTANCE, 40])
def test_tombstones_are_honoured_at_every_distance(max_distance):
    rng = np.random.default_rng(max_distance)
    hashes = _clustered(rng, 3_000)
    ids = np.arange(3_000) % 700
    index = MutablePdqIndex(ids, hashes)
    gone = list(range(0, 700, 3))
    index.remove(gone)
    keep = ~np.isin(ids, gone)
    fresh = PdqIndex.build(ids[keep], hashes[keep])
    for query in flip_random_bits(rng, hashes[::100], np.full(30, max_distance // 2)):
        assert index.query(query, max_distance) == fresh.query(query, max_distance)
