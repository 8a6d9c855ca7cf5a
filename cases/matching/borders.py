"""Uniform borders and caption bars around a picture, found so that the matcher can hash what
is inside them too. Pure (numpy, Pillow), used by cases.matching.pdq.images on images and video
frames.

Re-uploads often frame the original: black letterbox or pillarbox bars when a still is put
in a 16:9 or 9:16 video, a white or coloured caption bar with text above or below a meme.
PDQ sees those bars as part of the picture and moves 60-100 bits, so the framed copy never
matched its source. Cutting the frame away on both sides (the stored item and the query)
brings them back within a few bits (docs/matching.md has the measured table).

The rule, per edge, on the <=512 px thumbnail the matcher hashes:
- the edge colour is the median colour of the third line in from the edge (the outer two
  may be a blend left by resampling or JPEG ringing, and are cut with the border);
- a line is *plain* when at least 97% of its pixels are within 24 levels of that colour
  (each channel), *caption-like* when at least 35% are (text on a plain band);
- from the edge inward, plain and (at the top and bottom only) caption-like lines are
  skipped, and the cut falls after the LAST plain line: a caption band ends in padding of
  the band's colour, while a photo's own rows rarely end in a fully plain one, so a run of
  caption-like rows inside the photo is never cut on its own;
- at most 45% of a side per pass, and the picture keeps at least 20% of each dimension;
- repeated (up to 4 passes) because a caption bar can sit on a letterboxed picture, whose
  own plain border is only an edge once the bar is gone.

A picture with a plain background of its own (a studio portrait) may lose part of that
background too. That is harmless: the trimmed variant is hashed IN ADDITION to the whole
picture, never instead of it."""

from __future__ import annotations

import numpy as np
from PIL import Image

# Levels (0-255, per channel) a border pixel may differ from the edge colour: JPEG noise
# around text and on dark bars stays within it.
BORDER_TOLERANCE = 24
PLAIN_SHARE = 0.97
CAPTION_SHARE = 0.35
MAX_TRIM_SHARE = 0.45
MIN_KEEP_SHARE = 0.2
MIN_TRIM_PIXELS = 2
# Lines at an edge that may be a blend of two colours (resampling, JPEG ringing where a
# bar meets the picture): the edge colour is read just inside them.
BLEND_LINES = 2
PASSES = 4

Box = tuple[int, int, int, int]  # left, top, right, bottom (Pillow's crop box)


def _edge_run(lines: np.ndarray, *, captions: bool) -> int:
    """How many lines (rows of `lines`, from index 0 inward) form a border to cut."""
    limit = int(len(lines) * MAX_TRIM_SHARE)
    if limit <= BLEND_LINES:
        return 0
    edge = np.median(lines[BLEND_LINES], axis=0)
    close = (np.abs(lines[:limit] - edge).max(axis=2) <= BORDER_TOLERANCE).mean(axis=1)
    if close[BLEND_LINES] >= PLAIN_SHARE:
        close[:BLEND_LINES] = 1.0
    cut = 0
    for i, share in enumerate(close.tolist()):
        if share >= PLAIN_SHARE:
            cut = i + 1
        elif not (captions and share >= CAPTION_SHARE) and i >= BLEND_LINES:
            break
    return cut if cut >= MIN_TRIM_PIXELS else 0


def border_box(img: Image.Image) -> Box | None:
    """The box inside the picture's plain borders and caption bars, or None when there is
    nothing to cut. `img` is RGB."""
    pixels = np.asarray(img, dtype=np.int16)
    height, width = pixels.shape[:2]
    left, top, right, bottom = 0, 0, width, height
    for _ in range(PASSES):
        changed = False
        rows = pixels[top:bottom, left:right]
        cut_top = _edge_run(rows, captions=True)
        cut_bottom = _edge_run(rows[::-1], captions=True)
        if (cut_top or cut_bottom) and (
            bottom - top - cut_top - cut_bottom >= MIN_KEEP_SHARE * height
        ):
            top, bottom, changed = top + cut_top, bottom - cut_bottom, True
        columns = pixels[top:bottom, left:right].transpose(1, 0, 2)
        cut_left = _edge_run(columns, captions=False)
        cut_right = _edge_run(columns[::-1], captions=False)
        if (cut_left or cut_right) and (
            right - left - cut_left - cut_right >= MIN_KEEP_SHARE * width
        ):
            left, right, changed = left + cut_left, right - cut_right, True
        if not changed:
            break
    box = (left, top, right, bottom)
    return None if box == (0, 0, width, height) else box


def trim_borders(img: Image.Image) -> Image.Image | None:
    """The picture without its plain borders and caption bars, or None when it has none."""
    if min(img.size) < 3 * MIN_TRIM_PIXELS:
        return None
    box = border_box(img)
    return None if box is None else img.crop(box)
