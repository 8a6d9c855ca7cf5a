"""The PDQ index: multi-index hashing must find exactly what a full scan finds."""

from __future__ import annotations

import itertools

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
from cases.matching.pdq.index import (
    BruteForceIndex,
    PdqIndex,
    chunk_radii,
    chunk_values,
    chunk_widths,
)
from tests.matching.corpus import families, flip_random_bits


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


@pytest.mark.parametrize(
    "widths", [[16] * 16, chunk_widths(10_000_000), [32] * 8, [20] * 12 + [16]]
)
@pytest.mark.parametrize("max_distance", [0, 15, MATCH_DISTANCE, 40])
def test_radii_satisfy_the_pigeonhole_bound(widths, max_distance):
    radii = chunk_radii(widths, max_distance)
    assert sum(r + 1 for r in radii) == max_distance + 1
    assert max(radii) - min(radii) <= 1


def test_chunk_values_are_the_bits_of_the_hash():
    rng = np.random.default_rng(4)
    hashes = rng.integers(0, 256, size=(50, 32), dtype=np.uint8)
    widths = chunk_widths(10_000_000)
    for row, *values in zip(hashes, *chunk_values(hashes, widths), strict=True):
        bits = format(int.from_bytes(row.tobytes(), "big"), "0256b")
        offsets = np.cumsum([0, *widths])
        assert values == [int(bits[a:b], 2) for a, b in itertools.pairwise(offsets)]


def test_the_large_index_layout_is_exact_on_clustered_hashes():
    """12 chunks of 21-22 bits (what an index of more than 2 million hashes uses), on random
    hashes plus near-duplicate families: the same answers as the scan at every distance."""
    rng = np.random.default_rng(99)
    seeds = rng.integers(0, 256, size=(30, 32), dtype=np.uint8)
    hashes = np.concatenate(
        [rng.integers(0, 256, size=(4_000, 32), dtype=np.uint8), families(rng, seeds, 4_000)]
    )
    ids = np.arange(len(hashes)) // 2  # two hashes per item
    mih = PdqIndex.build(ids, hashes, widths=chunk_widths(10_000_000))
    brute = BruteForceIndex.build(ids, hashes)
    assert mih.widths == [22] * 4 + [21] * 8
    queries = flip_random_bits(
        rng, hashes[rng.integers(0, len(hashes), 60)], rng.integers(0, 45, 60)
    )
    for max_distance in (0, 1, 12, MATCH_DISTANCE, 32, 40):
        for query in queries:
            assert mih.query(query, max_distance) == brute.query(query, max_distance)


def test_a_query_that_would_read_most_buckets_scans_instead():
    rng = np.random.default_rng(8)
    hashes = rng.integers(0, 256, size=(2_000, 32), dtype=np.uint8)
    mih = PdqIndex.build(np.arange(2_000), hashes)
    assert mih.candidates(hashes[0], max_distance=200) is None  # too many probes
    assert mih.query(hashes[0], 200) == BruteForceIndex.build(np.arange(2_000), hashes).query(
        hashes[0], 200
    )


def test_chunk_widths_must_cover_the_hash():
    with pytest.raises(ValueError, match="add up to 256"):
        PdqIndex.build(np.arange(1), np.zeros((1, 32), dtype=np.uint8), widths=[16] * 15)
