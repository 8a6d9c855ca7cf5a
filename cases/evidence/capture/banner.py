"""The date/time banner composed above a screenshot: when (UTC and KST), what (the URL in
the address bar, and the requested one when the page changed it) and with which tool. The
page's own pixels are pasted below it untouched."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

KST = ZoneInfo("Asia/Seoul")


_FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
)


def _font(size: int) -> Any:
    from PIL import ImageFont

    for candidate in _FONT_CANDIDATES:
        if Path(candidate).exists():
            return ImageFont.truetype(candidate, size)
    return ImageFont.load_default(size=size)


def _wrap(text: str, width: int, font: Any, draw: Any) -> list[str]:
    lines, current = [], ""
    for char in text:
        if draw.textlength(current + char, font=font) > width and current:
            lines.append(current)
            current = ""
        current += char
    lines.append(current)
    return lines[:4]


def stamp_screenshot(
    png: bytes, *, taken_at: datetime, url: str, tool: str, loaded_url: str = ""
) -> tuple[bytes, int]:
    """The screenshot with a banner above it that states when (UTC and KST), what (the URL
    displayed in the address bar, and the one the page was loaded from when the page
    changed it) and with which tool it was taken. The page's pixels are not touched: they sit below
    the banner exactly as Chromium rendered them (returns the PNG and the banner height,
    which the capture records so the alteration is documented)."""
    from PIL import Image, ImageDraw

    page = Image.open(io.BytesIO(png), formats=["PNG"])
    page.load()
    width = max(page.width, 600)
    font = _font(15)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    utc = taken_at.astimezone(UTC)
    lines = [
        f"Captured {utc:%Y-%m-%d %H:%M:%S} UTC  ·  {utc.astimezone(KST):%Y-%m-%d %H:%M:%S} KST",
        *_wrap(f"URL: {url}", width - 24, font, probe),
        *(_wrap(f"Loaded from: {loaded_url}", width - 24, font, probe) if loaded_url else []),
        tool,
    ]
    line_height = 22
    banner = 12 + line_height * len(lines)
    out = Image.new("RGB", (width, banner + page.height), (255, 255, 255))
    draw = ImageDraw.Draw(out)
    draw.rectangle([0, 0, width, banner - 1], fill=(20, 24, 32))
    for index, line in enumerate(lines):
        draw.text((12, 6 + index * line_height), line, fill=(255, 255, 255), font=font)
    out.paste(page.convert("RGB"), (0, banner))
    buffer = io.BytesIO()
    out.save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue(), banner
