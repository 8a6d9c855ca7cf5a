"""Re-upload matching: PDQ perceptual hashes and an index that finds every stored hash within
a Hamming distance of a query. Pure (numpy, Pillow, pdqhash): no ORM, so the bench and the
tests can drive it with a million hashes and no database.

PDQ (Meta's photo hash) gives 256 bits and a quality score 0-100. Re-encoded or resized copies
of a photo stay within a few bits of the original, unrelated photos sit near 128 (faces of
other people: 70 and more, measured), and 31 is Meta's "same image" threshold, our default.
Mirrors and 90-degree rotations are found by asking with the 8 dihedral hashes of the query.
Crops are PDQ's weak spot (about 1% a side is tolerated), hence the crop ladders below;
letterbox bars and caption bars are cut off before hashing a second variant (cases.matching.borders).
Which edits match, measured on the test images, is the table in docs/matching.md, which
tests/matching/test_edit_table.py regenerates; nothing beyond that table is claimed.

The index is multi-index hashing (Norouzi et al., "Fast search in Hamming space with
multi-index hashing", CVPR 2012): the 256 bits are cut into 16 chunks of 16 bits. If two hashes
differ in at most 31 bits, by pigeonhole at least one of their 16 chunks differs in at most
floor(31 / 16) = 1 bit. So a query looks up, for each chunk, its own value and its 16
one-bit neighbours (272 bucket lookups), and verifies the union of those buckets exactly.
Recall is 1.0 by construction up to distance 31 (the radius grows for larger distances, see
`_chunk_radius`). Buckets are stored CSR-style (one offsets array of 65,537 entries and one
row-order array per chunk), about 68 bytes per stored hash plus the 32-byte hashes."""

from __future__ import annotations

import io
import itertools
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import IO

import numpy as np
import pdqhash
from PIL import Image, ImageOps

from cases.matching.borders import trim_borders

HASH_BITS = 256
HASH_BYTES = HASH_BITS // 8
HEX_LENGTH = HASH_BYTES * 2
# Meta's threshold for "same image" (ThreatExchange PDQ docs): 31 of 256 bits.
MATCH_DISTANCE = 31
# PDQ's own advice: hashes of quality below 50 (flat or tiny images) match too easily.
LOW_QUALITY = 50
# Hash a thumbnail: PDQ downsamples to 64x64 internally anyway, and hashing a 12 MP original
# takes ~0.6 s against ~4 ms for 512 px, with the same result within a few bits.
HASH_MAX_SIDE = 512

# Borders are found on a larger decode: a picture framed by wide bars is small inside a
# 512 px thumbnail, and a pixel or two of its own thin border left or cut there moved the
# trimmed hash by up to 38 bits (measured on a pillarboxed SFHQ tile; 4 at 1024 px).
TRIM_MAX_SIDE = 1024

# Consecutive video keyframes this close are one shot: keep the first.
FRAME_DEDUP_DISTANCE = 8

# PDQ alone tolerates crops of about 1% a side (measured: 5% off one edge moves a hash by
# 50-100 bits). So each stored image also keeps the hashes of ten standard crops (5% off
# each edge, each corner, 2.5% and 5% all round), and a query also asks with the eight
# rotations and mirrors of its own crops at 2.5% and 5% (edges, corners, all round), so
# that a copy and its original share some pair of crops within about 1%. What that buys,
# measured (docs/matching.md): 2.5% or 5% off any one side, and 5% off every side, match;
# 10% off one side matched 3 of 32. Boxes are fractions (left, top, right, bottom) to cut off.
CropBox = tuple[float, float, float, float]
FULL: CropBox = (0.0, 0.0, 0.0, 0.0)


def _crop_ladder(edge: float) -> dict[str, CropBox]:
    half = edge / 2
    return {
        "full": FULL,
        "centre": (half, half, half, half),
        "top": (0.0, edge, 0.0, 0.0),
        "bottom": (0.0, 0.0, 0.0, edge),
        "left": (edge, 0.0, 0.0, 0.0),
        "right": (0.0, 0.0, edge, 0.0),
        "top_left": (edge, edge, 0.0, 0.0),
        "top_right": (0.0, edge, edge, 0.0),
        "bottom_left": (edge, 0.0, 0.0, edge),
        "bottom_right": (0.0, 0.0, edge, edge),
    }


STORED_CROPS = {**_crop_ladder(0.05), "all_round_5": (0.05, 0.05, 0.05, 0.05)}
QUERY_CROPS = {
    **{f"{name}_2.5": box for name, box in _crop_ladder(0.025).items()},
    **{f"{name}_5": box for name, box in _crop_ladder(0.05).items() if box != FULL},
    "all_round_5": STORED_CROPS["all_round_5"],
}

CHUNKS = 16
CHUNK_BITS = HASH_BITS // CHUNKS
CHUNK_VALUES = 1 << CHUNK_BITS

# Popcount of every byte: numpy < 2 has no bitwise_count (and pdqhash needs numpy < 2).
_POPCOUNT8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
# The same for 16-bit words: half the lookups of the byte table for a full scan.
_POPCOUNT16 = _POPCOUNT8[np.arange(CHUNK_VALUES) & 0xFF] + _POPCOUNT8[np.arange(CHUNK_VALUES) >> 8]


class HashError(ValueError):
    """An image that cannot be hashed, or a malformed hash; the message is for the user."""


# --- hex <-> bytes ---------------------------------------------------------------------------


def hash_to_bytes(value: str | bytes) -> bytes:
    """32 raw bytes from 64 hex digits (or bytes passed through after a length check)."""
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
    else:
        try:
            raw = bytes.fromhex(value.strip())
        except ValueError as exc:
            raise HashError(f"not a hexadecimal PDQ hash: {value[:80]!r}") from exc
    if len(raw) != HASH_BYTES:
        raise HashError(f"a PDQ hash has {HASH_BYTES} bytes, not {len(raw)}")
    return raw


def hash_to_hex(value: bytes | np.ndarray) -> str:
    """64 lowercase hex digits from 32 bytes (or a uint8 array of 32)."""
    raw = value.tobytes() if isinstance(value, np.ndarray) else bytes(value)
    if len(raw) != HASH_BYTES:
        raise HashError(f"a PDQ hash has {HASH_BYTES} bytes, not {len(raw)}")
    return raw.hex()


def hashes_from_hex(values: Iterable[str]) -> np.ndarray:
    """An (n, 32) uint8 matrix from hex strings, in one pass (no per-row numpy objects)."""
    joined = "".join(values)
    if len(joined) % HEX_LENGTH:
        raise HashError("every PDQ hash must have 64 hex digits")
    try:
        raw = bytes.fromhex(joined)
    except ValueError as exc:
        raise HashError("a PDQ hash is not hexadecimal") from exc
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, HASH_BYTES).copy()


def hamming(a: str | bytes, b: str | bytes) -> int:
    """Bits that differ between two hashes."""
    x = np.frombuffer(hash_to_bytes(a), np.uint8) ^ np.frombuffer(hash_to_bytes(b), np.uint8)
    return int(_POPCOUNT8[x].sum())


# --- hashing ---------------------------------------------------------------------------------


def _bits_to_hex(bits: np.ndarray) -> str:
    # pdqhash returns 256 ints, most significant bit of Meta's word 15 first: packing them
    # big-endian gives exactly the hex string of Meta's reference implementation.
    return np.packbits(bits.astype(np.uint8)).tobytes().hex()


def _prepare(image: bytes | IO[bytes] | Image.Image, max_side: int = HASH_MAX_SIDE) -> Image.Image:
    """An RGB image of at most `max_side` pixels a side, EXIF orientation applied.

    Uploads are checked for decompression bombs before they are stored; this refuses them
    again (as an error, not Pillow's warning) for anything that reaches it another way."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            if isinstance(image, Image.Image):
                img = image
            else:
                source = io.BytesIO(image) if isinstance(image, bytes | bytearray) else image
                img = Image.open(source)
                # draft() lets the JPEG decoder scale by 1/2..1/8 while decoding: a big
                # photo never becomes a full-size bitmap.
                img.draft("RGB", (max_side, max_side))
            img = ImageOps.exif_transpose(img)
            if img.mode != "RGB":
                img = img.convert("RGBA" if "A" in img.getbands() else "RGB").convert("RGB")
            if max(img.size) > max_side:
                img = img.copy()
                img.thumbnail((max_side, max_side), Image.Resampling.BILINEAR)
            img.load()
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Warning) as exc:
        raise HashError(f"cannot read the image: {exc}") from exc
    if min(img.size) < 1:
        raise HashError("the image is empty")
    return img


def _thumbnail(img: Image.Image) -> Image.Image:
    """The <=HASH_MAX_SIDE picture that is hashed, from a larger decode."""
    if max(img.size) <= HASH_MAX_SIDE:
        return img
    small = img.copy()
    small.thumbnail((HASH_MAX_SIDE, HASH_MAX_SIDE), Image.Resampling.BILINEAR)
    return small


def _trimmed(large: Image.Image) -> Image.Image | None:
    """The picture without its plain borders and caption bars, found on the larger decode
    and returned at hashing size; None when it has none."""
    trimmed = trim_borders(large)
    return None if trimmed is None else _thumbnail(trimmed)


def _pixels(img: Image.Image) -> np.ndarray:
    return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))


def _crop(img: Image.Image, box: CropBox) -> Image.Image:
    left, top, right, bottom = box
    if box == FULL:
        return img
    w, h = img.size
    return img.crop((round(w * left), round(h * top), w - round(w * right), h - round(h * bottom)))


def _hash(img: Image.Image) -> tuple[str, int]:
    bits, quality = pdqhash.compute(_pixels(img))
    return _bits_to_hex(bits), int(quality)


def pdq_hash_image(image: bytes | IO[bytes] | Image.Image) -> tuple[str, int]:
    """(hex, quality) of an image given as bytes, a file object or a PIL image."""
    return _hash(_prepare(image))


def pdq_hash_dihedral(image: bytes | IO[bytes] | Image.Image) -> tuple[list[str], int]:
    """The 8 hashes of the image's rotations and mirrors (the original first)."""
    hashes, quality = pdqhash.compute_dihedral(_pixels(_prepare(image)))
    return [_bits_to_hex(bits) for bits in hashes], int(quality)


@dataclass(frozen=True)
class FrameHash:
    """The PDQ hash of one video frame, and of the frame without its letterbox or caption
    bars ("" when it has none)."""

    hex: str
    quality: int
    trimmed_hex: str = ""

    @property
    def hashes(self) -> list[str]:
        return [self.hex, self.trimmed_hex] if self.trimmed_hex else [self.hex]


def _trimmed_hash(trimmed: Image.Image | None) -> str:
    """The hash of the picture inside its plain borders and caption bars (`trimmed`, from
    _trimmed), or "" when it has none. A trimmed picture too flat to hash (a caption bar
    around a blank frame) would match too easily: only a hash of usable quality is kept."""
    if trimmed is None:
        return ""
    hex_value, quality = _hash(trimmed)
    return hex_value if quality >= LOW_QUALITY else ""


def pdq_hash_frames(frames: Iterable[bytes | IO[bytes] | Image.Image]) -> list[FrameHash]:
    """The hashes of video keyframes (decoded elsewhere), whole and without borders, by the
    same routine as images; unreadable frames and consecutive near-identical ones are
    skipped (a static shot yields one entry, not fifty)."""
    results: list[FrameHash] = []
    for frame in frames:
        try:
            large = _prepare(frame, TRIM_MAX_SIDE)
        except HashError:
            continue
        hex_value, quality = _hash(_thumbnail(large))
        if results and hamming(results[-1].hex, hex_value) <= FRAME_DEDUP_DISTANCE:
            continue
        results.append(FrameHash(hex_value, quality, _trimmed_hash(_trimmed(large))))
    return results


@dataclass(frozen=True)
class PdqAnalysis:
    """Everything matching needs from one image, from a single decode.

    - `hex`, `quality`: the canonical PDQ hash of the whole picture (what Evidence shows);
    - `trimmed_hex`: the hash of the picture without its plain borders and caption bars
      (cases.matching.borders), "" when it has none;
    - `stored`: what the index keeps for this item: the whole picture, its STORED_CROPS,
      then the trimmed picture if any;
    - `queries`: what we ask the index with: the 8 rotations/mirrors of the whole picture,
      of each of its QUERY_CROPS and of the trimmed picture (duplicates removed)."""

    hex: str
    quality: int
    stored: list[str]
    queries: list[str]
    trimmed_hex: str = ""

    @property
    def low_quality(self) -> bool:
        return self.quality < LOW_QUALITY


def _dihedral_hexes(img: Image.Image) -> list[str]:
    hashes, _quality = pdqhash.compute_dihedral(_pixels(img))
    return [_bits_to_hex(bits) for bits in hashes]


def pdq_analyse(image: bytes | IO[bytes] | Image.Image) -> PdqAnalysis:
    """Hash an image for storage and for querying (about 40 PDQ hashes of a <=512 px
    thumbnail: ~50 ms plus decoding)."""
    large = _prepare(image, TRIM_MAX_SIDE)
    img = _thumbnail(large)
    # STORED_CROPS starts with the whole picture: its hash and quality are the item's.
    hex_value, quality = _hash(img)
    stored = [hex_value, *(_hash(_crop(img, box))[0] for box in list(STORED_CROPS.values())[1:])]
    queries: dict[str, None] = {}
    for box in QUERY_CROPS.values():
        queries.update((value, None) for value in _dihedral_hexes(_crop(img, box)))
    trimmed = _trimmed(large)
    trimmed_hex = _trimmed_hash(trimmed)
    if trimmed is not None and trimmed_hex:
        stored.append(trimmed_hex)
        queries.update((value, None) for value in _dihedral_hexes(trimmed))
    return PdqAnalysis(
        hex=hex_value,
        quality=quality,
        stored=stored,
        queries=list(queries),
        trimmed_hex=trimmed_hex,
    )


# --- the index -------------------------------------------------------------------------------


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


def _distances(matrix: np.ndarray, row: np.ndarray) -> np.ndarray:
    """Hamming distance from `row` to every row of `matrix` (n, 32): XOR, then popcount
    through a 64K-entry table on 16-bit words (16 lookups a row)."""
    xor = np.bitwise_xor(matrix, row).view(np.uint16)
    return _POPCOUNT16[xor].sum(axis=1, dtype=np.uint16)


def _merge(ids: np.ndarray, rows: np.ndarray, distances: np.ndarray, best: dict[int, int]) -> None:
    for item_id, distance in zip(ids[rows].tolist(), distances.tolist(), strict=True):
        if distance < best.get(item_id, HASH_BITS + 1):
            best[item_id] = distance


def _sorted_matches(best: dict[int, int]) -> list[tuple[int, int]]:
    return sorted(best.items(), key=lambda pair: (pair[1], pair[0]))


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
        best: dict[int, int] = {}
        if not len(self.ids):
            return []
        for query in queries:
            distances = _distances(self.hashes, _query_row(query))
            rows = np.flatnonzero(distances <= max_distance)
            _merge(self.ids, rows, distances[rows], best)
        return _sorted_matches(best)


def _chunk_radius(max_distance: int) -> int:
    return max_distance // CHUNKS


def _neighbour_masks(radius: int) -> np.ndarray:
    """Every 16-bit XOR mask with at most `radius` bits set (17 masks for radius 1)."""
    masks = [0]
    for weight in range(1, radius + 1):
        for bits in itertools.combinations(range(CHUNK_BITS), weight):
            masks.append(sum(1 << b for b in bits))
    return np.array(masks, dtype=np.int64)


class PdqIndex:
    """Multi-index hashing over 16 chunks of 16 bits, with exact verification.

    `build` sorts the rows by each chunk's value (a counting-sort layout: `offsets[c][v]` is
    where bucket v of chunk c starts in `order[c]`). A query gathers the rows of its 16 x 17
    buckets, drops duplicates, and computes exact distances for those candidates only. With
    random hashes a bucket holds n / 65,536 rows, so at a million hashes a query verifies about
    4,000 candidates instead of a million. Immutable once built: rebuild to add hashes (a
    million builds in about two seconds)."""

    def __init__(self, ids: np.ndarray, hashes: np.ndarray) -> None:
        self.ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        self.hashes = _as_matrix(hashes)
        n = len(self.hashes)
        if len(self.ids) != n:
            raise ValueError("ids and hashes differ in length")
        if n >= 2**32:
            raise ValueError("too many hashes for one index")
        # Chunk c is the big-endian 16-bit word c of the hash.
        chunks = self.hashes.view(">u2")
        self.offsets = np.empty((CHUNKS, CHUNK_VALUES + 1), dtype=np.int64)
        self.order = np.empty((CHUNKS, n), dtype=np.uint32)
        for c in range(CHUNKS):
            # Native-endian uint16: numpy's stable sort is a radix sort for 16-bit keys.
            column = chunks[:, c].astype(np.uint16)
            self.order[c] = np.argsort(column, kind="stable")
            self.offsets[c, 0] = 0
            np.cumsum(np.bincount(column, minlength=CHUNK_VALUES), out=self.offsets[c, 1:])
        self._flat_order = self.order.reshape(-1)
        self._masks_cache: dict[int, np.ndarray] = {}

    @classmethod
    def build(cls, ids: np.ndarray, hashes: np.ndarray) -> PdqIndex:
        return cls(ids, hashes)

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def nbytes(self) -> int:
        return self.ids.nbytes + self.hashes.nbytes + self.offsets.nbytes + self.order.nbytes

    def _masks(self, radius: int) -> np.ndarray:
        if radius not in self._masks_cache:
            self._masks_cache[radius] = _neighbour_masks(radius)
        return self._masks_cache[radius]

    def candidates(self, row: np.ndarray, max_distance: int = MATCH_DISTANCE) -> np.ndarray:
        """Row numbers that share a chunk within the pigeonhole radius with the query."""
        n = len(self.ids)
        if not n:
            return np.zeros(0, dtype=np.int64)
        masks = self._masks(_chunk_radius(max_distance))
        words = row.view(">u2").astype(np.int64)  # (16,)
        values = words[:, None] ^ masks[None, :]  # (16, masks)
        chunk_rows = np.arange(CHUNKS)[:, None]
        starts = self.offsets[chunk_rows, values].reshape(-1)
        ends = self.offsets[chunk_rows, values + 1].reshape(-1)
        lengths = ends - starts
        total = int(lengths.sum())
        if not total:
            return np.zeros(0, dtype=np.int64)
        # Positions start..end-1 of every bucket, laid end to end, then shifted into the
        # flattened (chunk, position) order array.
        keep = lengths > 0
        starts, lengths = starts[keep], lengths[keep]
        base = (np.repeat(np.arange(CHUNKS), masks.size)[keep] * n) + starts
        run_starts = np.cumsum(lengths) - lengths
        positions = np.repeat(base - run_starts, lengths) + np.arange(total)
        return np.unique(self._flat_order[positions]).astype(np.int64)

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
        if max_distance < 0 or max_distance > HASH_BITS:
            raise ValueError("max_distance must be between 0 and 256")
        best: dict[int, int] = {}
        for query in queries:
            row = _query_row(query)
            rows = self.candidates(row, max_distance)
            if not rows.size:
                continue
            distances = _distances(self.hashes[rows], row)
            close = distances <= max_distance
            _merge(self.ids, rows[close], distances[close], best)
        return _sorted_matches(best)
