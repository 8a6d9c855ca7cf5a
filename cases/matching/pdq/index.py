"""The index: every stored hash within a Hamming distance of a query, exactly.

Multi-index hashing (Norouzi et al., "Fast search in Hamming space with multi-index
hashing", CVPR 2012): the 256 bits are cut into m chunks and each chunk gets a search
radius r_i with sum(r_i + 1) > max_distance. If two hashes differ in at most max_distance
bits, then by pigeonhole at least one chunk differs in at most r_i bits (otherwise they would
differ in sum(r_i + 1) or more). So a query looks up, for each chunk, its own value and every
value within r_i bits of it, and verifies the union of those buckets exactly: recall is 1.0
by construction, at any distance.

The chunk width follows the index size (the paper's rule: about log2(n) bits a chunk), so
buckets stay small: 16 chunks of 16 bits up to 2,000,000 hashes (16 x 17 lookups at
distance 31), 12 chunks of 21-22 bits above (about 2,000 lookups, but a bucket holds 2-5
rows at 10,000,000 instead of 150: about 7,000 rows to verify a query instead of 41,000).
Buckets are stored CSR-style: per chunk an offsets array of 2^width + 1 entries (uint32) and
a row-order array of n entries (uint32). At 10,000,000 hashes: 320 MB of hashes, 80 MB of
ids, 480 MB of row orders and 128 MB of offsets, plus a 40 MB scratch array per querying
thread (measured in docs/benchmarks.md, "Issue 13: PDQ index at 10M").

Real hashes cluster (near-duplicate families share every chunk), so candidates are
deduplicated before they are verified, and the rows are stored sorted by their first chunk
so that a family's rows are verified from neighbouring memory. faiss's
IndexBinaryMultiHash, measured on the same hashes, was 20 times slower (docs/decisions.md)."""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Iterable, Iterator, Sequence

import numpy as np

from cases.matching.pdq.hashes import (
    HASH_BITS,
    HASH_BYTES,
    MATCH_DISTANCE,
    HashError,
    hamming_distances,
    hash_to_bytes,
    hashes_from_hex,
)

# Up to this many hashes: 16 chunks of 16 bits (offset tables of 65,537 entries). Above:
# 12 chunks of 21-22 bits (offset tables of 2-4 million entries, 128 MB together), which
# verify about six times fewer rows per query at 10 million (measured in bench/pdq_index.py).
SMALL_INDEX = 2_000_000
# A query that would read more bucket entries than this share of the index scans it instead
# (a very large max_distance, or a query inside a huge cluster): never slower than a scan.
SCAN_SHARE = 0.25


def _as_matrix(hashes: np.ndarray | Sequence[bytes] | Sequence[str]) -> np.ndarray:
    if isinstance(hashes, np.ndarray):
        matrix = hashes
    elif len(hashes) and isinstance(hashes[0], str):
        matrix = hashes_from_hex(hashes)  # type: ignore[arg-type]
    else:
        matrix = np.frombuffer(b"".join(hash_to_bytes(h) for h in hashes), dtype=np.uint8)
    matrix = np.ascontiguousarray(matrix, dtype=np.uint8).reshape(-1, HASH_BYTES)
    return matrix


def _query_row(query: str | bytes | np.ndarray) -> np.ndarray:
    if isinstance(query, np.ndarray):
        row = np.ascontiguousarray(query, dtype=np.uint8).reshape(-1)
        if row.size != HASH_BYTES:
            raise HashError(f"a PDQ hash has {HASH_BYTES} bytes, not {row.size}")
        return row
    return np.frombuffer(hash_to_bytes(query), dtype=np.uint8)


def _check_distance(max_distance: int) -> None:
    if max_distance < 0 or max_distance > HASH_BITS:
        raise ValueError("max_distance must be between 0 and 256")


def best_matches(ids: np.ndarray, distances: np.ndarray) -> list[tuple[int, int]]:
    """[(id, distance)]: each id once with its smallest distance, nearest first, then by id."""
    if not ids.size:
        return []
    order = np.lexsort((ids, distances))
    ids, distances = ids[order], distances[order]
    # After sorting by (distance, id), an id's first occurrence is its smallest distance.
    _unique, first = np.unique(ids, return_index=True)
    first.sort()
    return list(zip(ids[first].tolist(), distances[first].tolist(), strict=True))


class BruteForceIndex:
    """The reference: compares the query with every stored hash. Exact and simple; linear in
    the number of hashes (about 40 ms a query at a million on one core)."""

    def __init__(self, ids: np.ndarray, hashes: np.ndarray) -> None:
        self.ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        self.hashes = _as_matrix(hashes)
        if len(self.ids) != len(self.hashes):
            raise ValueError("ids and hashes differ in length")

    @classmethod
    def build(cls, ids: np.ndarray, hashes: np.ndarray) -> BruteForceIndex:
        return cls(ids, hashes)

    def __len__(self) -> int:
        return len(self.ids)

    def query(
        self, query: str | bytes | np.ndarray, max_distance: int = MATCH_DISTANCE
    ) -> list[tuple[int, int]]:
        return self.query_many([query], max_distance)

    def query_many(
        self, queries: Iterable[str | bytes | np.ndarray], max_distance: int = MATCH_DISTANCE
    ) -> list[tuple[int, int]]:
        """Items within max_distance of ANY query (e.g. the 8 dihedral hashes of one image),
        each once with its smallest distance, nearest first."""
        _check_distance(max_distance)
        found_ids, found_distances = [], []
        for query in queries:
            distances = hamming_distances(self.hashes, _query_row(query))
            rows = np.flatnonzero(distances <= max_distance)
            found_ids.append(self.ids[rows])
            found_distances.append(distances[rows])
        if not found_ids:
            return []
        return best_matches(np.concatenate(found_ids), np.concatenate(found_distances))


def chunk_widths(n: int) -> list[int]:
    """The chunk widths for an index of n hashes (they add up to 256): 16 x 16 bits up to
    SMALL_INDEX hashes, else 4 chunks of 22 bits and 8 of 21."""
    if n <= SMALL_INDEX:
        return [16] * 16
    return [22] * 4 + [21] * 8


def chunk_radii(widths: Sequence[int], max_distance: int) -> list[int]:
    """Per-chunk search radii with sum(r + 1) = max_distance + 1 (the pigeonhole bound); -1
    means the chunk is not searched. The extra radius goes to the widest chunks first: their
    buckets are the smallest, so a larger radius costs them the least."""
    base, extra = divmod(max_distance + 1, len(widths))
    by_width = sorted(range(len(widths)), key=lambda c: (-widths[c], c))
    radii = [base - 1] * len(widths)
    for c in by_width[:extra]:
        radii[c] += 1
    return radii


def _neighbour_masks(width: int, radius: int) -> np.ndarray:
    """Every `width`-bit XOR mask with at most `radius` bits set."""
    masks = [0]
    for weight in range(1, radius + 1):
        for bits in itertools.combinations(range(width), weight):
            masks.append(sum(1 << b for b in bits))
    return np.array(masks, dtype=np.int64)


def _lookups(width: int, radius: int) -> int:
    return sum(math.comb(width, k) for k in range(radius + 1))


def chunk_values(hashes: np.ndarray, widths: Sequence[int]) -> Iterator[np.ndarray]:
    """Each chunk's value for every row, one chunk at a time (int64): chunk c is the bits
    offset..offset+width of the hash read as one big-endian 256-bit number."""
    words = np.ascontiguousarray(hashes).view(">u8")  # (n, 4), big-endian words
    offset = 0
    for width in widths:
        first, shift = divmod(offset, 64)
        end = shift + width
        if end <= 64:
            value = words[:, first].astype(np.uint64) >> np.uint64(64 - end)
        else:
            spill = end - 64
            value = (words[:, first].astype(np.uint64) << np.uint64(spill)) | (
                words[:, first + 1].astype(np.uint64) >> np.uint64(64 - spill)
            )
        yield (value & np.uint64((1 << width) - 1)).astype(np.int64)
        offset += width


def _stable_order(keys: np.ndarray, width: int) -> np.ndarray:
    """argsort(keys, stable) in 16-bit radix passes (numpy radix-sorts 16-bit keys; wider
    keys would fall back to a comparison sort, about 4x slower at 10 million)."""
    order = np.argsort((keys & 0xFFFF).astype(np.uint16), kind="stable")
    if width > 16:
        high = (keys[order] >> 16).astype(np.uint16)
        order = order[np.argsort(high, kind="stable")]
    return order.astype(np.uint32)


class PdqIndex:
    """Multi-index hashing with exact verification (see the module docstring).

    `build` sorts the rows by each chunk's value (a counting-sort layout: bucket v of chunk c
    is `order[c][offsets[c][v]:offsets[c][v + 1]]`). A query gathers the rows of its buckets
    and computes exact distances for those candidates only. Immutable once built:
    `MutablePdqIndex` (cases.matching.pdq.mutable) adds and deletes on top of one."""

    def __init__(
        self, ids: np.ndarray, hashes: np.ndarray, widths: Sequence[int] | None = None
    ) -> None:
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        matrix = _as_matrix(hashes)
        n = len(matrix)
        if len(ids) != n:
            raise ValueError("ids and hashes differ in length")
        if n >= 2**32:
            raise ValueError("too many hashes for one index")
        self.widths = list(widths) if widths is not None else chunk_widths(n)
        if sum(self.widths) != HASH_BITS or not all(1 <= w <= 32 for w in self.widths):
            raise ValueError("chunk widths must be 1-32 bits and add up to 256")
        # The index keeps its own copy of the rows, sorted by their first chunk: near-
        # duplicates share it, so a cluster's rows sit side by side in memory and verifying
        # them reads neighbouring cache lines instead of scattered ones.
        first = _stable_order(next(chunk_values(matrix, self.widths[:1])), self.widths[0])
        self.ids = ids[first]
        self.hashes = matrix[first]
        # One flat offsets array for all chunks (chunk c starts at self._table_base[c]) and
        # one flat order array (chunk c's rows at c * n ..).
        sizes = [(1 << w) + 1 for w in self.widths]
        self._table_base = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self.offsets = np.empty(sum(sizes), dtype=np.uint32)
        self.order = np.empty((len(self.widths), n), dtype=np.uint32)
        for c, column in enumerate(chunk_values(self.hashes, self.widths)):
            start = self._table_base[c]
            self.order[c] = _stable_order(column, self.widths[c])
            self.offsets[start] = 0
            counts = np.bincount(column, minlength=1 << self.widths[c])
            np.cumsum(counts, out=self.offsets[start + 1 : start + sizes[c]])
        self._flat_order = self.order.reshape(-1)
        self._plans: dict[int, tuple[np.ndarray, np.ndarray, int]] = {}
        self._local = threading.local()

    @classmethod
    def build(
        cls, ids: np.ndarray, hashes: np.ndarray, widths: Sequence[int] | None = None
    ) -> PdqIndex:
        return cls(ids, hashes, widths)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def nbytes(self) -> int:
        return self.ids.nbytes + self.hashes.nbytes + self.offsets.nbytes + self.order.nbytes

    def _plan(self, max_distance: int) -> tuple[np.ndarray, np.ndarray, int]:
        """(chunk of each probe, XOR mask of each probe, number of probes) for a distance."""
        if max_distance not in self._plans:
            radii = chunk_radii(self.widths, max_distance)
            if sum(_lookups(w, r) for w, r in zip(self.widths, radii, strict=True)) > 1 << 20:
                self._plans[max_distance] = (np.zeros(0, np.int64), np.zeros(0, np.int64), -1)
            else:
                chunks, masks = [], []
                for c, (width, radius) in enumerate(zip(self.widths, radii, strict=True)):
                    if radius < 0:
                        continue
                    chunk_masks = _neighbour_masks(width, radius)
                    chunks.append(np.full(chunk_masks.size, c, dtype=np.int64))
                    masks.append(chunk_masks)
                chunk_of = np.concatenate(chunks)
                self._plans[max_distance] = (chunk_of, np.concatenate(masks), chunk_of.size)
        return self._plans[max_distance]

    def candidates(self, row: np.ndarray, max_distance: int = MATCH_DISTANCE) -> np.ndarray | None:
        """Row numbers (each once) that share a chunk within its radius with the query, or
        None when a full scan is cheaper."""
        n = len(self.ids)
        if not n:
            return np.zeros(0, dtype=np.int64)
        chunk_of, masks, probes = self._plan(max_distance)
        if probes < 0:
            return None
        query_chunks = np.array([v[0] for v in chunk_values(row.reshape(1, -1), self.widths)])
        slots = self._table_base[chunk_of] + (query_chunks[chunk_of] ^ masks)
        starts = self.offsets[slots].astype(np.int64)
        lengths = self.offsets[slots + 1].astype(np.int64) - starts
        keep = lengths > 0
        starts, lengths, chunk_of = starts[keep], lengths[keep], chunk_of[keep]
        total = int(lengths.sum())
        if total > SCAN_SHARE * n * len(self.widths):
            return None
        # Positions start..end-1 of every bucket, laid end to end, then shifted into the
        # flattened (chunk, position) order array.
        base = chunk_of * n + starts
        run_starts = np.cumsum(lengths) - lengths
        positions = np.repeat(base - run_starts, lengths) + np.arange(total)
        return self._distinct(self._flat_order[positions].astype(np.int64))

    def _distinct(self, rows: np.ndarray) -> np.ndarray:
        """`rows` without repeats, in O(len(rows)): a near-duplicate shares every chunk with
        the query, so it comes once per chunk (four times the rows to verify in a cluster of
        near-duplicates, measured). Each row's slot in a per-thread scratch array takes the
        position of its last occurrence; a position that reads back as its own is kept. Only
        slots written by this call are read, so the array is never cleared (4 bytes a hash,
        allocated on a thread's first query)."""
        if rows.size < 2:
            return rows
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = np.zeros(len(self.ids), dtype=np.int32)
        positions = np.arange(rows.size, dtype=np.int32)
        scratch[rows] = positions
        return rows[scratch[rows] == positions]

    def matches(
        self, row: np.ndarray, max_distance: int = MATCH_DISTANCE
    ) -> tuple[np.ndarray, np.ndarray]:
        """(row numbers, distances) of the stored hashes within max_distance of one query
        row."""
        _check_distance(max_distance)
        rows = self.candidates(row, max_distance)
        if rows is None:
            distances = hamming_distances(self.hashes, row)
            rows = np.flatnonzero(distances <= max_distance)
            return rows, distances[rows]
        distances = hamming_distances(self.hashes[rows], row)
        close = distances <= max_distance
        return rows[close], distances[close]

    def query(
        self, query: str | bytes | np.ndarray, max_distance: int = MATCH_DISTANCE
    ) -> list[tuple[int, int]]:
        """[(id, distance)] of every stored hash within max_distance, nearest first."""
        return self.query_many([query], max_distance)

    def query_many(
        self, queries: Iterable[str | bytes | np.ndarray], max_distance: int = MATCH_DISTANCE
    ) -> list[tuple[int, int]]:
        """Items within max_distance of ANY query (e.g. the 8 dihedral hashes of one image),
        each once with its smallest distance, nearest first."""
        _check_distance(max_distance)
        found_ids, found_distances = [], []
        for query in queries:
            rows, distances = self.matches(_query_row(query), max_distance)
            found_ids.append(self.ids[rows])
            found_distances.append(distances)
        if not found_ids:
            return []
        return best_matches(np.concatenate(found_ids), np.concatenate(found_distances))
