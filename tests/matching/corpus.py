"""Clustered, image-derived PDQ hashes for index tests and bench/pdq_index.py.

Real PDQ hashes are not independent bits: edits of one picture share most of their 16-bit
words, and a picture that spreads is stored again and again within a few bits. Random
hashes never show that, and it is what makes multi-index hashing buckets grow. So:

- `image_hashes`: real PDQ hashes (all 8 rotations and mirrors) of edited copies of the
  test images (2 portraits, 32 SFHQ faces, scenes drawn with Pillow): crops, caption bars,
  letterboxing, JPEG recompression, resizing, brightness and contrast, grayscale, and two of
  these at once;
- `families`: near-duplicate families around such hashes (a re-encoded or resized copy moves
  a PDQ hash by a few bits), with heavy-tailed sizes: most families have one or two
  members, a few have thousands."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pdqhash
from PIL import Image, ImageEnhance

from tests.matching.edits import caption_bar, letterbox
from tests.matching.images import crop_fraction, portrait, resized, scene, sfhq_tiles

HASH_BYTES = 32
# Family members differ from their seed by a Poisson number of bits with this mean, capped.
FAMILY_MEAN_FLIPS = 6
FAMILY_MAX_FLIPS = 24
FAMILY_MAX_SIZE = 10_000


def base_images(scenes: int) -> list[Image.Image]:
    """The test faces and `scenes` drawn scenes, at most 256 px a side (PDQ hashes a 64 x 64
    downsample, so larger pictures would only cost time)."""
    images = [portrait("obama"), portrait("biden"), *sfhq_tiles()]
    images += [scene(seed, (320, 240)) for seed in range(scenes)]
    for img in images:
        img.thumbnail((256, 256))
    return images


def _recompressed(img: Image.Image, quality: int) -> Image.Image:
    import io

    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    with Image.open(buffer) as out:
        return out.convert("RGB")


def random_edit(rng: np.random.Generator) -> Callable[[Image.Image], Image.Image]:
    """One re-uploader's edit with random parameters."""
    kind = int(rng.integers(8))
    if kind == 0:
        box = tuple(float(v) for v in rng.uniform(0, 0.08, 4))
        return lambda img: crop_fraction(img, *box)
    if kind == 1:
        where = "top" if rng.random() < 0.5 else "bottom"
        return lambda img: caption_bar(img, where=where)
    if kind == 2:
        return letterbox
    if kind == 3:
        quality = int(rng.integers(20, 96))
        return lambda img: _recompressed(img, quality)
    if kind == 4:
        factor = float(rng.uniform(0.3, 0.9))
        return lambda img: resized(img, factor)
    if kind == 5:
        brightness, contrast = (float(v) for v in rng.uniform(0.7, 1.3, 2))
        return lambda img: ImageEnhance.Contrast(
            ImageEnhance.Brightness(img).enhance(brightness)
        ).enhance(contrast)
    if kind == 6:
        return lambda img: img.convert("L").convert("RGB")
    first, second = random_edit(rng), random_edit(rng)
    return lambda img: second(first(img))


def pdq_dihedral(img: Image.Image) -> np.ndarray:
    """(8, 32) uint8: the PDQ hashes of the picture's rotations and mirrors."""
    pixels = np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))
    hashes, _quality = pdqhash.compute_dihedral(pixels)
    return np.packbits(np.asarray(hashes, dtype=np.uint8), axis=1)


def image_hashes(
    rng: np.random.Generator, images: list[Image.Image], edits_per_image: int
) -> np.ndarray:
    """(len(images) * (edits_per_image + 1) * 8, 32): each image and `edits_per_image`
    random edits of it, each with its 8 dihedral hashes."""
    rows = []
    for img in images:
        rows.append(pdq_dihedral(img))
        for _ in range(edits_per_image):
            rows.append(pdq_dihedral(random_edit(rng)(img)))
    return np.concatenate(rows)


def flip_random_bits(rng: np.random.Generator, rows: np.ndarray, flips: np.ndarray) -> np.ndarray:
    """Copies of `rows` with about `flips[i]` random bits of row i inverted (each bit with
    probability flips[i] / 256)."""
    out = np.empty_like(rows)
    for start in range(0, len(rows), 250_000):
        stop = min(len(rows), start + 250_000)
        chance = rng.integers(0, 256, size=(stop - start, 256), dtype=np.uint8)
        masks = np.packbits(chance < flips[start:stop, None].astype(np.uint8), axis=1)
        out[start:stop] = rows[start:stop] ^ masks
    return out


def families(rng: np.random.Generator, seeds: np.ndarray, total: int) -> np.ndarray:
    """`total` hashes in near-duplicate families around `seeds` (reused with a few bits
    changed when more families than seeds are needed): Zipf-distributed family sizes capped
    at FAMILY_MAX_SIZE, members within FAMILY_MAX_FLIPS bits of their family's seed."""
    sizes: list[np.ndarray] = []
    count = 0
    while count < total:
        batch = np.minimum(rng.zipf(1.8, size=10_000), FAMILY_MAX_SIZE)
        sizes.append(batch)
        count += int(batch.sum())
    family_sizes = np.concatenate(sizes)
    family_sizes = family_sizes[: int(np.searchsorted(np.cumsum(family_sizes), total)) + 1]
    family_sizes[-1] -= int(family_sizes.sum()) - total
    picks = rng.integers(0, len(seeds), size=len(family_sizes))
    # A family past the first that reuses a seed starts a few bits away from it.
    centres = flip_random_bits(
        rng, seeds[picks], np.where(np.arange(len(picks)) < len(seeds), 0, 8)
    )
    members = np.repeat(centres, family_sizes, axis=0)
    flips = np.minimum(rng.poisson(FAMILY_MEAN_FLIPS, size=total), FAMILY_MAX_FLIPS)
    return flip_random_bits(rng, members, flips)
