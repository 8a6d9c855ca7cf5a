"""Images for matching tests: two public-domain portraits and the 32 synthetic faces of the
SFHQ sample grid (tests/data, with their licences), plus scenes drawn with Pillow."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from tests.data_path import data_file


def portrait(name: str) -> Image.Image:
    """obama or biden (US government works, public domain; tests/data/faces/real)."""
    with Image.open(data_file("faces", "real", f"{name}.jpg")) as img:
        return img.convert("RGB")


def sfhq_tiles() -> list[Image.Image]:
    """The 4 x 8 grid of synthetic faces (tests/data/faces/sfhq) cut into its 32 tiles."""
    with Image.open(data_file("faces", "sfhq", "SFHQ_sample_4x8.jpg")) as grid:
        grid = grid.convert("RGB")
    width, height = grid.size
    tile_w, tile_h = width // 8, height // 4
    return [
        grid.crop((c * tile_w, r * tile_h, (c + 1) * tile_w, (r + 1) * tile_h))
        for r in range(4)
        for c in range(8)
    ]


def scene(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A made-up photo: a coloured gradient, random ellipses and bars, slightly blurred."""
    rng = np.random.default_rng(seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width]
    a, b, c = rng.uniform(0.2, 1.0, 3)
    base = np.stack(
        [
            (x / width * 255 * a),
            (y / height * 255 * b),
            ((x + y) / (width + height) * 255 * c),
        ],
        axis=-1,
    ).astype(np.uint8)
    img = Image.fromarray(base)
    draw = ImageDraw.Draw(img)
    for _ in range(14):
        x0, y0 = rng.integers(0, width), rng.integers(0, height)
        w, h = rng.integers(30, width // 2), rng.integers(30, height // 2)
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x0 + w, y0 + h), fill=colour)
        else:
            draw.rectangle((x0, y0, x0 + w, y0 + h // 4), fill=colour)
    return img.filter(ImageFilter.GaussianBlur(1.5))


def jpeg_bytes(img: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def png_bytes(img: Image.Image) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, "PNG")
    return buffer.getvalue()


def crop_fraction(
    img: Image.Image, left: float, top: float, right: float, bottom: float
) -> Image.Image:
    """Cut the given fractions of the width (left, right) and height (top, bottom) off."""
    w, h = img.size
    return img.crop((round(w * left), round(h * top), w - round(w * right), h - round(h * bottom)))


def resized(img: Image.Image, factor: float) -> Image.Image:
    return img.resize((max(1, round(img.width * factor)), max(1, round(img.height * factor))))


def mirrored(img: Image.Image) -> Image.Image:
    return ImageOps.mirror(img)
