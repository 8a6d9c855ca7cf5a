"""The edits re-uploaders make, applied to test images, and the measured table of which of
them the matcher finds (docs/matching.md is generated from `edit_table`)."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from cases.matching.pdq.hashes import MATCH_DISTANCE, hashes_from_hex
from cases.matching.pdq.images import PdqAnalysis, pdq_analyse
from cases.matching.pdq.index import PdqIndex
from tests.data_path import data_file
from tests.matching.images import crop_fraction, jpeg_bytes, resized, scene

# The table's faces: both portraits and four of the 32 SFHQ tiles (one per grid row).
TABLE_FACES = [("real", "biden"), ("real", "obama")] + [
    ("sfhq", f"sfhq-{n:02d}") for n in (0, 9, 18, 27)
]
Edit = Callable[[Image.Image], Image.Image]


def table_images() -> dict[str, Image.Image]:
    """The table's images: 2 public-domain portraits, 4 SFHQ synthetic faces (tests/data,
    with their licences) and 2 synthetic scenes drawn with Pillow."""
    images: dict[str, Image.Image] = {}
    for folder, name in TABLE_FACES:
        with Image.open(data_file("faces", folder, f"{name}.jpg")) as img:
            images[name] = img.convert("RGB")
    images.update({f"scene-{seed}": scene(seed) for seed in (0, 3)})
    return images


def _reencoded(img: Image.Image, quality: int) -> Image.Image:
    with Image.open(io.BytesIO(jpeg_bytes(img, quality))) as out:
        return out.convert("RGB")


def _one_side(side: str, share: float) -> Edit:
    box = {"left": (share, 0, 0, 0), "top": (0, share, 0, 0), "right": (0, 0, share, 0)}
    box["bottom"] = (0, 0, 0, share)
    return lambda img: crop_fraction(img, *box[side])


def caption_bar(img: Image.Image, *, where: str) -> Image.Image:
    """A meme caption: a band 15% of the height added above (white, black text) or below
    (black, white text) the picture."""
    width, height = img.size
    bar = max(12, round(height * 0.15))
    background, ink = ("white", "black") if where == "top" else ("black", "white")
    out = Image.new("RGB", (width, height + bar), background)
    out.paste(img, (0, bar if where == "top" else 0))
    draw = ImageDraw.Draw(out)
    top = 0 if where == "top" else height
    draw.text(
        (round(width * 0.08), top + round(bar * 0.3)),
        "WHEN YOU SEE IT #viral",
        fill=ink,
        font_size=max(8, bar // 3),
    )
    return out


def letterbox(img: Image.Image) -> Image.Image:
    """Black bars to a frame of the other orientation: 9:16 for a landscape picture
    (letterbox, a still in a vertical video), 16:9 otherwise (pillarbox)."""
    width, height = img.size
    aspect = 9 / 16 if width > height else 16 / 9
    if width / height < aspect:
        size = (round(height * aspect), height)
    else:
        size = (width, round(width / aspect))
    out = Image.new("RGB", size, "black")
    out.paste(img, ((size[0] - width) // 2, (size[1] - height) // 2))
    return out


SIDES = ("left", "top", "right", "bottom")

# (row label, one or more edits whose results are counted together)
EDITS: list[tuple[str, list[Edit]]] = [
    ("Resized to 50%", [lambda img: resized(img, 0.5)]),
    ("Re-encoded as JPEG quality 50", [lambda img: _reencoded(img, 50)]),
    *(
        (
            f"Cropped {pct:g}% off one side (each of 4 sides)",
            [_one_side(s, pct / 100) for s in SIDES],
        )
        for pct in (2.5, 5, 10)
    ),
    ("Cropped 5% off every side", [lambda img: crop_fraction(img, 0.05, 0.05, 0.05, 0.05)]),
    (
        "Caption bar added on top (white, 15% of the height)",
        [lambda i: caption_bar(i, where="top")],
    ),
    (
        "Caption bar added below (black, 15% of the height)",
        [lambda i: caption_bar(i, where="bottom")],
    ),
    ("Letterboxed or pillarboxed (black bars to 9:16 or 16:9)", [letterbox]),
    ("Mirrored", [ImageOps.mirror]),
    ("Rotated 90°", [lambda img: img.rotate(90, expand=True)]),
    ("Rotated 5° (black corners)", [lambda img: img.rotate(5, expand=True, fillcolor="black")]),
    ("Grayscale", [lambda img: img.convert("L").convert("RGB")]),
]


@dataclass
class Row:
    label: str
    tried: int = 0
    copy_finds_original: int = 0
    original_finds_copy: int = 0
    false_matches: int = 0


def _index(analyses: list[PdqAnalysis]) -> PdqIndex:
    ids = np.repeat(np.arange(len(analyses)), [len(a.stored) for a in analyses])
    return PdqIndex.build(ids, hashes_from_hex(h for a in analyses for h in a.stored))


def edit_table() -> list[Row]:
    """Each edit applied to every test image, the copy saved as JPEG q90 (the JPEG row at
    q50), hashed as the service hashes an upload, and looked up both ways at distance 31:
    the copy among the stored originals, and each original among the stored copies. A
    match with any other image counts as a false match."""
    images = list(table_images().values())
    originals = [pdq_analyse(jpeg_bytes(img, 92)) for img in images]
    library = _index(originals)
    rows = []
    for label, edits in EDITS:
        row = Row(label)
        for edit in edits:
            copies = [pdq_analyse(jpeg_bytes(edit(img), 90)) for img in images]
            copy_index = _index(copies)
            for i, (original, copy) in enumerate(zip(originals, copies, strict=True)):
                row.tried += 1
                forward = {j for j, _d in library.query_many(copy.queries, MATCH_DISTANCE)}
                backward = {j for j, _d in copy_index.query_many(original.queries, MATCH_DISTANCE)}
                row.copy_finds_original += i in forward
                row.original_finds_copy += i in backward
                row.false_matches += len(forward - {i}) + len(backward - {i})
        rows.append(row)
    return rows


def _verdict(row: Row) -> str:
    found = min(row.copy_finds_original, row.original_finds_copy)
    if found == row.tried:
        return "matches"
    if max(row.copy_finds_original, row.original_finds_copy) == 0:
        return "does not match"
    return "sometimes"


def edit_table_markdown(rows: list[Row]) -> str:
    lines = [
        "| Edit of the original | Copy finds original | Original finds copy | False matches | Verdict |",
        "|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.label} | {row.copy_finds_original} of {row.tried} "
            f"| {row.original_finds_copy} of {row.tried} | {row.false_matches} | {_verdict(row)} |"
        )
    return "\n".join(lines) + "\n"
