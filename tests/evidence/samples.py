"""Sample files for the evidence tests, built in memory (good ones and hostile ones)."""

from __future__ import annotations

import io
import random
import struct
import zlib

from PIL import Image


def noise_image(size: tuple[int, int] = (320, 240), seed: int = 1) -> Image.Image:
    """A detailed picture: random pixels have as much high-frequency energy as it gets."""
    rng = random.Random(seed)
    return Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def png_bytes(size: tuple[int, int] = (320, 240), seed: int = 1) -> bytes:
    return encode(noise_image(size, seed), "PNG")


def jpeg_bytes(size: tuple[int, int] = (320, 240), seed: int = 1) -> bytes:
    return encode(noise_image(size, seed), "JPEG", quality=90)


def gif_bytes() -> bytes:
    return encode(noise_image((64, 48)).convert("P"), "GIF")


def webp_bytes() -> bytes:
    return encode(noise_image((64, 48)), "WEBP")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(width: int = 20000, height: int = 20000) -> bytes:
    """A real, valid 1-bit PNG of 20000 x 20000 white pixels: about 50 KB on disk, 400
    megapixels once decoded."""
    row = b"\x00" + b"\xff" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", body)
        + _chunk(b"IEND", b"")
    )


def png_with_text(text: bytes) -> bytes:
    """A small valid PNG with a tEXt chunk before the image data."""
    png = png_bytes((16, 16))
    ihdr_end = 8 + 8 + 13 + 4
    return png[:ihdr_end] + _chunk(b"tEXt", b"Comment\x00" + text) + png[ihdr_end:]


HTML_PAGE = b"<!doctype html><html><body><script>alert(document.cookie)</script></body></html>"
SVG_WITH_SCRIPT = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(1)</script><rect width='10' height='10'/></svg>"
)


def mp4_bytes() -> bytes:
    """A structurally valid MP4 box sequence (ftyp + free + mdat); not playable, which the
    upload checks do not need: they check the magic and that the boxes tile the file."""
    ftyp = struct.pack(">I4s4sI", 24, b"ftyp", b"isom", 512) + b"isomiso2"
    free = struct.pack(">I4s", 8, b"free")
    payload = random.Random(3).randbytes(1000)
    mdat = struct.pack(">I4s", 8 + len(payload), b"mdat") + payload
    return ftyp + free + mdat


def pdf_bytes() -> bytes:
    return (
        b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
        b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
    )
