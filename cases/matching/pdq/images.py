"""Hashing pictures and video frames with PDQ, for storage and for querying.

Mirrors and 90-degree rotations are found by asking with the 8 dihedral hashes of the query.
Crops are PDQ's weak spot (about 1% a side is tolerated), hence the crop ladders below;
letterbox bars and caption bars are cut off before hashing a second variant
(cases.matching.borders)."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO

import numpy as np
import pdqhash
from PIL import Image, ImageOps

from cases.matching.borders import trim_borders
from cases.matching.pdq.hashes import LOW_QUALITY, HashError, hamming

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
