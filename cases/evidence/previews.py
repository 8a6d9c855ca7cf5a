"""Server-side previews of evidence images: blurred by default, unblurred only on reveal.

Previews are derived files: built from the original with Pillow (restricted to the sniffed
format, with the decompression-bomb protection on), downscaled, and, for the default
preview, blurred so strongly that nothing explicit is recognisable. The blurred one is
cached under derived/previews/ (apart from the originals; it can be rebuilt at any time).
The unblurred one is built on demand after a logged reveal and never stored.
Videos, PDFs, HTML and other files get a neutral placeholder: no frame is extracted.
"""

from __future__ import annotations

import io
import warnings
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFilter, ImageOps

from cases.evidence.models import Evidence
from cases.evidence.services.evidence import evidence_open
from cases.evidence.uploads import ACCEPTED, max_image_pixels
from cases.kernel.storage import derived_name, derived_put, derived_read

PREVIEW_SIDE = 480
REVEAL_SIDE = 1280
# Blur radius as a fraction of the preview's longest side: at 480 px a radius of 30 px
# leaves colours and rough layout, never faces or bodies.
BLUR_FRACTION = 1 / 16
JPEG_QUALITY = 80
BACKGROUND = (208, 212, 218)
BLUR_SUFFIX = "blur.jpg"


def _pillow_format(media_type: str) -> str | None:
    for file_type in ACCEPTED:
        if file_type.media_type == media_type:
            return file_type.pillow_format
    return None


def _decode(evidence: Evidence, side: int) -> Image.Image | None:
    """The original's first frame as RGB, upright (EXIF orientation applied), at most
    `side` pixels on its longest side; None when it is not an image we can decode."""
    pillow_format = _pillow_format(evidence.media_type)
    if pillow_format is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            with (
                evidence_open(evidence) as handle,
                Image.open(handle, formats=[pillow_format]) as image,
            ):
                if image.width * image.height > max_image_pixels():
                    return None
                # JPEG can decode straight at a reduced scale: much faster for big photos.
                image.draft("RGB", (side * 2, side * 2))
                image.load()
                frame = ImageOps.exif_transpose(image)
                frame.thumbnail((side, side), Image.Resampling.LANCZOS)
                return _flatten(frame)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            return None
        except Exception:
            # Anything Pillow cannot decode gets the placeholder; the original is untouched.
            return None


def _flatten(image: Image.Image) -> Image.Image:
    """RGB, with any transparency composited over a neutral background."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, BACKGROUND)
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


def blur(image: Image.Image) -> Image.Image:
    radius = max(8.0, max(image.size) * BLUR_FRACTION)
    return image.filter(ImageFilter.GaussianBlur(radius))


@lru_cache(maxsize=1)
def placeholder_jpeg() -> bytes:
    """A neutral grey card for items without an image preview."""
    image = Image.new("RGB", (320, 240), BACKGROUND)
    draw = ImageDraw.Draw(image)
    draw.rectangle((120, 80, 200, 160), outline=(150, 156, 166), width=4)
    draw.polygon([(148, 100), (148, 140), (180, 120)], fill=(150, 156, 166))
    return _jpeg(image)


def blurred_preview(evidence: Evidence) -> bytes:
    """The blurred JPEG preview (built once, then read from derived/previews/), or the
    placeholder when the evidence is not a decodable image."""
    name = derived_name(evidence.sha256, BLUR_SUFFIX)
    cached = derived_read(name)
    if cached is not None:
        return cached
    image = _decode(evidence, PREVIEW_SIDE)
    if image is None:
        return placeholder_jpeg()
    data = _jpeg(blur(image))
    derived_put(name, data)
    return data


def revealed_preview(evidence: Evidence) -> bytes | None:
    """The unblurred, downscaled JPEG (never stored); None when there is no image."""
    image = _decode(evidence, REVEAL_SIDE)
    return None if image is None else _jpeg(image)


def has_image_preview(evidence: Evidence) -> bool:
    return _pillow_format(evidence.media_type) is not None
