"""The PDQ index: multi-index hashing must find exactly what a full scan finds."""

from __future__ import annotations

import numpy as np
import pytest

from cases.matching.pdq.hashes import (
    MATCH_DISTANCE,
    HashError,
    hamming,
    hash_to_bytes,
    hash_to_hex,
    hashes_from_hex,
)
from cases.matching.pdq.index import BruteForceIndex, PdqIndex


def _flip(row: np.ndarray, bits: np.ndarray) -> np.ndarray:
    """A copy of a hash with the given bit positions inverted."""
    out = row.copy()
    for bit in bits:
        out[bit // 8] ^= np.uint8(1 << (bit % 8))
    return out


def _planted(rng: np.random.Generator, n: int, per_distance: int = 3):
    """n random hashes plus, for every distance 0..40, copies of random rows at exactly that
    distance (so the threshold's both sides are exercised). Returns ids, hashes, queries."""
    hashes = rng.integers(0, 256, size=(n, 32), dtype=np.uint8)
    planted, queries = [], []
    for distance in range(0, 41):
        for _ in range(per_distance):
            source = hashes[rng.integers(n)]
            bits = rng.choice(256, size=distance, replace=False)
            near = _flip(source, bits)
            planted.append(near)
            queries.append(source)
    all_hashes = np.vstack([hashes, np.array(planted)])
    ids = np.arange(len(all_hashes), dtype=np.int64) + 1000
    return ids, all_hashes, queries


def test_mih_finds_exactly_what_brute_force_finds_at_distance_31():
    rng = np.random.default_rng(20_000)
    ids, hashes, queries = _planted(rng, 20_000)
    mih, brute = PdqIndex.build(ids, hashes), BruteForceIndex.build(ids, hashes)
    # Queries: the sources of planted near-duplicates (distances 0..40) and random hashes.
    queries = queries + list(rng.integers(0, 256, size=(20, 32), dtype=np.uint8))
    found = 0
    for query in queries:
        expected = brute.query(query, max_distance=MATCH_DISTANCE)
        assert mih.query(query, max_distance=MATCH_DISTANCE) == expected
        found += len(expected)
    # Every planted copy within 31 (32 distances x 3) plus the sources themselves.
    assert found >= 32 * 3


def test_every_planted_copy_within_31_is_found_and_none_beyond():
    rng = np.random.default_rng(7)
    base = rng.integers(0, 256, size=(5_000, 32), dtype=np.uint8)
    source = base[0]
    copies = [_flip(source, rng.choice(256, size=d, replace=False)) for d in range(0, 64)]
    hashes = np.vstack([base[1:], np.array(copies)])
    ids = np.concatenate([np.arange(1, 5_000), 100_000 + np.arange(64)])
    result = dict(PdqIndex.build(ids, hashes).query(source))
    for distance in range(64):
        if distance <= MATCH_DISTANCE:
            assert result.get(100_000 + distance) == distance
        else:
            assert 100_000 + distance not in result


def test_mih_matches_brute_force_at_other_distances():
    rng = np.random.default_rng(3)
    ids, hashes, queries = _planted(rng, 3_000, per_distance=1)
    mih, brute = PdqIndex.build(ids, hashes), BruteForceIndex.build(ids, hashes)
    for max_distance in (0, 1, 15, 16, 32, 40):
        for query in queries[::4]:
            assert mih.query(query, max_distance) == brute.query(query, max_distance)


def test_query_many_keeps_each_item_once_with_its_smallest_distance():
    rng = np.random.default_rng(11)
    row = rng.integers(0, 256, size=32, dtype=np.uint8)
    near, far = _flip(row, np.arange(5)), _flip(row, np.arange(20))
    index = PdqIndex.build(np.array([1, 1, 2]), np.vstack([near, far, far]))
    assert index.query_many([row, far]) == [(1, 0), (2, 0)]
    assert index.query_many([row]) == [(1, 5), (2, 20)]


def test_empty_index_finds_nothing():
    index = PdqIndex.build(np.zeros(0, dtype=np.int64), np.zeros((0, 32), dtype=np.uint8))
    assert len(index) == 0
    assert index.query("00" * 32) == []
    assert BruteForceIndex.build(np.zeros(0), np.zeros((0, 32), np.uint8)).query("00" * 32) == []


def test_hex_and_bytes_round_trip():
    value = "f" * 8 + "0" * 48 + "1234abcd"
    raw = hash_to_bytes(value)
    assert len(raw) == 32
    assert hash_to_hex(raw) == value
    assert hashes_from_hex([value, value]).shape == (2, 32)
    assert hamming(value, "0" * 64) == 32 + 15  # 0x1234abcd has 15 bits set


@pytest.mark.parametrize("bad", ["abc", "zz" * 32, "00" * 31, "00" * 33])
def test_malformed_hashes_are_refused(bad):
    with pytest.raises(HashError):
        hash_to_bytes(bad)


def test_ids_and_hashes_must_have_the_same_length():
    with pytest.raises(ValueError, match="differ in length"):
        PdqIndex.build(np.arange(3), np.zeros((2, 32), dtype=np.uint8))
