"""Checking a screenshot a fan attaches, before anything is stored.

The rules, in order (the first that fails refuses the file with a message in the fan's
language; the fan never sees the decoder's own English message):
1. not empty, at most FAN_SCREENSHOT_MAX_BYTES;
2. the format comes from the bytes (cases.kernel.decode.image_format), never from the file
   name or the browser: JPEG, PNG, WebP or GIF; anything else (SVG, HTML, PDF, video ...)
   is refused;
3. the whole image must decode with Pillow restricted to the image formats, at most
   cases.kernel.decode.MAX_IMAGE_PIXELS pixels, with Pillow's decompression-bomb warning as
   an error (cases.kernel.decode.decode_image, the detector's decoder).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO

from django.conf import settings
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

from cases.kernel.decode import DecodeError, UnsupportedMedia, decode_image, image_format

FAN_SCREENSHOT_TYPES = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
}


class ScreenshotRefused(ValueError):
    """A refused screenshot; the message is for the fan, in the active language."""


@dataclass(frozen=True)
class FanScreenshotFile:
    data: bytes
    media_type: str
    width: int
    height: int


def fan_screenshot_max_bytes() -> int:
    return int(settings.FAN_SCREENSHOT_MAX_BYTES)


def fan_screenshot_read(upload: IO[bytes], *, size: int) -> FanScreenshotFile:
    """Read and check one uploaded screenshot (rules in the module's docstring)."""
    limit = fan_screenshot_max_bytes()
    if size > limit:
        raise ScreenshotRefused(
            _("The screenshot is too large (at most %(limit)s).") % {"limit": filesizeformat(limit)}
        )
    data = upload.read(limit + 1)
    if not data:
        raise ScreenshotRefused(_("The screenshot is empty."))
    if len(data) > limit:
        raise ScreenshotRefused(
            _("The screenshot is too large (at most %(limit)s).") % {"limit": filesizeformat(limit)}
        )
    media_type = FAN_SCREENSHOT_TYPES.get(image_format(data))
    if media_type is None:
        raise ScreenshotRefused(_("Please attach a picture: a JPEG, PNG, WebP or GIF image."))
    try:
        decoded = decode_image(data)
    except (DecodeError, UnsupportedMedia):
        raise ScreenshotRefused(
            _("This image could not be read (damaged or too large). Please try another one.")
        ) from None
    return FanScreenshotFile(
        data=data, media_type=media_type, width=decoded.width, height=decoded.height
    )
