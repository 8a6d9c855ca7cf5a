"""Done-when 5 at the level of the matcher itself (no database): it finds resized (50%),
re-encoded (JPEG q60), slightly cropped (5%) and mirrored copies of a stored image, and
does not match unrelated images, at Hamming distance 31."""

from __future__ import annotations

import io
import itertools

import numpy as np
import pytest
from PIL import Image

from cases.matching.pdq.hashes import (
    LOW_QUALITY,
    MATCH_DISTANCE,
    HashError,
    hamming,
    hashes_from_hex,
)
from cases.matching.pdq.images import (
    pdq_analyse,
    pdq_hash_dihedral,
    pdq_hash_frames,
    pdq_hash_image,
)
from cases.matching.pdq.index import PdqIndex
from tests.matching.images import (
    crop_fraction,
    jpeg_bytes,
    mirrored,
    png_bytes,
    portrait,
    resized,
    scene,
    sfhq_tiles,
)

# How a copy was cut: fractions (left, top, right, bottom) of the original removed.
CROPS_5 = {
    "5% all round (2.5% a side)": (0.025, 0.025, 0.025, 0.025),
    "5% off the bottom": (0.0, 0.0, 0.0, 0.05),
    "5% off the left": (0.05, 0.0, 0.0, 0.0),
    "5% off the right and bottom": (0.0, 0.0, 0.05, 0.05),
    "5% off the top and left": (0.05, 0.05, 0.0, 0.0),
    "3% left, 2% right, 1% top, 4% bottom": (0.03, 0.01, 0.02, 0.04),
}


class Library:
    """Stored images in a real PdqIndex, as the service stores them (whole + crops)."""

    def __init__(self, images: dict[str, Image.Image]) -> None:
        self.names = list(images)
        self.analyses = {name: pdq_analyse(png_bytes(img)) for name, img in images.items()}
        counts = [len(self.analyses[name].stored) for name in self.names]
        ids = np.repeat(np.arange(len(self.names)), counts)
        hashes = hashes_from_hex(h for name in self.names for h in self.analyses[name].stored)
        self.index = PdqIndex.build(ids, hashes)

    def find(self, image: Image.Image | bytes) -> dict[str, int]:
        """{stored name: distance} of everything a copy matches at distance 31."""
        return self._lookup(pdq_analyse(image).queries)

    def find_stored(self, name: str) -> dict[str, int]:
        return self._lookup(self.analyses[name].queries)

    def _lookup(self, queries: list[str]) -> dict[str, int]:
        return {self.names[i]: d for i, d in self.index.query_many(queries, MATCH_DISTANCE)}


@pytest.fixture(scope="module")
def faces() -> dict[str, Image.Image]:
    images = {"obama": portrait("obama"), "biden": portrait("biden")}
    images.update({f"sfhq-{i}": tile for i, tile in enumerate(sfhq_tiles())})
    return images


@pytest.fixture(scope="module")
def library(faces) -> Library:
    scenes = {f"scene-{seed}": scene(seed) for seed in range(6)}
    return Library({**faces, **scenes})


# The stored originals copies are made of: the two portraits, four SFHQ faces, two scenes.
ORIGINALS = ["obama", "biden", "sfhq-0", "sfhq-9", "sfhq-18", "sfhq-27", "scene-0", "scene-3"]


def _original(library: Library, faces, name: str) -> Image.Image:
    return faces[name] if name in faces else scene(int(name.split("-")[1]))


@pytest.mark.parametrize("name", ORIGINALS)
def test_matcher_finds_a_copy_resized_to_half(library, faces, name):
    copy = resized(_original(library, faces, name), 0.5)
    assert list(library.find(jpeg_bytes(copy, 95))) == [name]


@pytest.mark.parametrize("name", ORIGINALS)
def test_matcher_finds_a_copy_reencoded_as_jpeg_q60(library, faces, name):
    copy = jpeg_bytes(_original(library, faces, name), quality=60)
    assert list(library.find(copy)) == [name]


@pytest.mark.parametrize("crop", list(CROPS_5.values()), ids=list(CROPS_5))
@pytest.mark.parametrize("name", ORIGINALS)
def test_matcher_finds_a_copy_cropped_by_5_percent(library, faces, name, crop):
    copy = crop_fraction(_original(library, faces, name), *crop)
    assert list(library.find(jpeg_bytes(copy, 85))) == [name]


@pytest.mark.parametrize("name", ORIGINALS)
def test_matcher_finds_a_mirrored_copy(library, faces, name):
    copy = mirrored(_original(library, faces, name))
    assert list(library.find(jpeg_bytes(copy, 90))) == [name]


@pytest.mark.parametrize("name", ORIGINALS)
def test_matcher_finds_a_mirrored_cropped_halved_jpeg_copy(library, faces, name):
    original = _original(library, faces, name)
    copy = resized(mirrored(crop_fraction(original, 0.0, 0.02, 0.04, 0.03)), 0.5)
    assert list(library.find(jpeg_bytes(copy, 60))) == [name]


@pytest.mark.parametrize("name", ORIGINALS[:4])
def test_matcher_finds_a_copy_rotated_by_90_degrees(library, faces, name):
    copy = _original(library, faces, name).rotate(90, expand=True)
    assert list(library.find(jpeg_bytes(copy, 90))) == [name]


def test_matcher_matches_no_unrelated_image(library):
    """Each stored image, asked with its full query set (mirrors, rotations, crops), finds
    only itself among other faces (2 portraits, 32 synthetic faces) and the scenes."""
    for name in library.names:
        assert list(library.find_stored(name)) == [name]


def test_unrelated_faces_are_far_beyond_the_threshold(library):
    """Margin, not just a pass: the closest pair of different faces, over every stored
    crop and every query variant, stays far above 31."""
    names = [n for n in library.names if not n.startswith("scene")]
    closest = min(
        hamming(q, s)
        for a, b in itertools.permutations(names, 2)
        for q in library.analyses[a].queries[::4]
        for s in library.analyses[b].stored
    )
    assert closest > MATCH_DISTANCE + 20


def test_hash_is_64_hex_digits_with_a_quality(faces):
    value, quality = pdq_hash_image(faces["obama"])
    assert len(value) == 64 and int(value, 16) >= 0
    assert 0 <= quality <= 100 and quality >= LOW_QUALITY


def test_bytes_file_and_pil_image_give_the_same_hash(faces):
    data = png_bytes(faces["biden"])
    assert (
        pdq_hash_image(data) == pdq_hash_image(io.BytesIO(data)) == pdq_hash_image(faces["biden"])
    )


def test_hashing_a_large_original_uses_a_thumbnail_without_changing_the_result():
    big = scene(5, size=(3000, 2000))
    small = big.resize((512, 341))
    assert hamming(pdq_hash_image(jpeg_bytes(big, 92))[0], pdq_hash_image(small)[0]) <= 10


def test_the_first_dihedral_hash_is_the_plain_hash(faces):
    hashes, _quality = pdq_hash_dihedral(faces["obama"])
    assert len(hashes) == 8
    assert hashes[0] == pdq_hash_image(faces["obama"])[0]


def test_a_flat_image_is_flagged_low_quality():
    value, quality = pdq_hash_image(Image.new("RGB", (300, 200), (120, 120, 120)))
    assert quality < LOW_QUALITY
    assert len(value) == 64


def test_a_non_image_is_refused_with_a_clear_error():
    with pytest.raises(HashError, match="cannot read the image"):
        pdq_hash_image(b"%PDF-1.7 not an image")


def test_a_decompression_bomb_is_refused(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10_000)
    with pytest.raises(HashError):
        pdq_hash_image(png_bytes(scene(1, size=(400, 300))))


def test_video_frames_drop_repeats_of_the_same_shot():
    shot_a, shot_b = scene(10), scene(11)
    frames = [png_bytes(shot_a), jpeg_bytes(shot_a, 80), b"not a frame", png_bytes(shot_b)]
    hashes = pdq_hash_frames(frames)
    assert [f.hex for f in hashes] == [pdq_hash_image(shot_a)[0], pdq_hash_image(shot_b)[0]]
    # Frames without borders get no second hash.
    assert [f.trimmed_hex for f in hashes] == ["", ""]


def _letterboxed(img: Image.Image, bar: int) -> Image.Image:
    out = Image.new("RGB", (img.width, img.height + 2 * bar), "black")
    out.paste(img, (0, bar))
    return out


def _captioned(img: Image.Image, bar: int) -> Image.Image:
    from PIL import ImageDraw

    out = Image.new("RGB", (img.width, img.height + bar), "white")
    out.paste(img, (0, bar))
    ImageDraw.Draw(out).text((20, bar // 3), "so true #lol", fill="black", font_size=bar // 3)
    return out


def test_the_border_box_is_the_picture_inside_letterbox_bars_and_caption_bars():
    from cases.matching.borders import border_box

    picture = scene(12, size=(400, 300))
    left, top, right, bottom = border_box(_letterboxed(picture, 60))
    assert abs(top - 60) <= 2 and abs(bottom - 360) <= 2 and (left, right) == (0, 400)
    left, top, right, bottom = border_box(_captioned(picture, 60))
    assert abs(top - 60) <= 2 and bottom == 360
    # A picture without bars is left whole.
    assert border_box(picture) is None


def test_a_letterboxed_copy_hashes_apart_whole_and_together_trimmed():
    """The finding: bars move PDQ far past 31; trimming brings the copy back."""
    picture = scene(13, size=(400, 300))
    boxed = pdq_analyse(jpeg_bytes(_letterboxed(picture, 70), 90))
    plain = pdq_analyse(jpeg_bytes(picture, 90))
    assert hamming(boxed.hex, plain.hex) > MATCH_DISTANCE
    assert boxed.trimmed_hex and hamming(boxed.trimmed_hex, plain.hex) <= 10
    assert boxed.trimmed_hex in boxed.stored
    assert plain.trimmed_hex == "" and len(plain.stored) == len(boxed.stored) - 1


def test_video_frames_are_trimmed_by_the_same_routine():
    picture = scene(14, size=(400, 300))
    frames = pdq_hash_frames([_letterboxed(picture, 50), _captioned(scene(15), 70)])
    assert len(frames) == 2
    assert hamming(frames[0].trimmed_hex, pdq_hash_image(picture)[0]) <= 10
    assert hamming(frames[1].trimmed_hex, pdq_hash_image(scene(15))[0]) <= 10
    assert frames[0].hashes == [frames[0].hex, frames[0].trimmed_hex]
