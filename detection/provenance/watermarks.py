"""The Stable Diffusion invisible watermarks (imwatermark, dwtDct): SD 1.x
"StableDiffusionV1", SD 2.x "SDV2", and the 48-bit message of SDXL.

The best-matching mark is reported by its bit agreement: strong from WATERMARK_STRONG,
weak (a damaged copy) from WATERMARK_WEAK for the 48-bit mark only.
"""

from __future__ import annotations

import logging
from typing import Any

from detection.provenance.metadata import MAX_PIXELS
from detection.provenance.signal import Kind, Signal, Strength, gettext_noop, make_signal

log = logging.getLogger(__name__)

SDXL_MESSAGE = 0b101100111110110010010000011110111011000110011110
# (name, imwatermark mode, payload, decoder length) as the reference scripts embed them:
# SD 1.x txt2img.py encodes "StableDiffusionV1" as bytes, SD 2.x "SDV2", SDXL a 48-bit message.
SD_WATERMARKS: list[tuple[str, str, Any, int]] = [
    ("Stable Diffusion 1.x", "bytes", b"StableDiffusionV1", 136),
    ("Stable Diffusion 2.x", "bytes", b"SDV2", 32),
    ("Stable Diffusion XL", "bits", [int(bit) for bit in bin(SDXL_MESSAGE)[2:]], 48),
]
# Bit agreement needed. A random 32-bit pattern matches >=31 bits with p ≈ 8e-9; real images
# that carry no mark decode to runs of zeros or ones, far below these.
WATERMARK_STRONG = 0.95
WATERMARK_WEAK = 0.85
WATERMARK_MIN_SIDE = 256  # imwatermark cannot embed below this


def _bits(payload: Any, mode: str) -> list[int]:
    if mode == "bits":
        return [int(b) for b in payload]
    return [int(bit) for byte in payload for bit in f"{byte:08b}"]


def watermark_signals(image: Any) -> list[Signal]:
    try:
        import numpy as np
        from imwatermark import WatermarkDecoder
    except ImportError:  # pragma: no cover - declared dependency
        log.warning("invisible-watermark is not installed; SD watermarks are not checked")
        return []
    width, height = image.size
    if min(width, height) < WATERMARK_MIN_SIDE or width * height > MAX_PIXELS:
        return []
    try:
        rgb = np.asarray(image.convert("RGB"))
    except Exception:
        return []
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    best: tuple[float, str, int] | None = None
    for name, mode, payload, length in SD_WATERMARKS:
        try:
            decoded = WatermarkDecoder(mode, length).decode(bgr, "dwtDct")
        except Exception:
            continue
        expected = _bits(payload, mode)
        got = _bits(decoded, "bits" if mode == "bits" else "bytes")
        if len(got) != len(expected):
            continue
        agreement = sum(a == b for a, b in zip(got, expected, strict=True)) / len(expected)
        if best is None or agreement > best[0]:
            best = (agreement, name, length)
    if best is None:
        return []
    agreement, name, length = best
    details = {"watermark": name, "bit_agreement": round(agreement, 3), "bits": length}
    if agreement >= WATERMARK_STRONG:
        return [
            make_signal(
                Kind.SD_WATERMARK,
                Strength.STRONG,
                gettext_noop(
                    "The invisible watermark of %(name)s is present (%(percent)s%% of %(bits)s bits match)."
                ),
                details,
                name=name,
                percent=round(agreement * 100),
                bits=length,
            )
        ]
    if agreement >= WATERMARK_WEAK and length >= 48:
        return [
            make_signal(
                Kind.SD_WATERMARK,
                Strength.WEAK,
                gettext_noop(
                    "A damaged copy of the %(name)s invisible watermark may be present (%(percent)s%% of %(bits)s bits match)."
                ),
                details,
                name=name,
                percent=round(agreement * 100),
                bits=length,
            )
        ]
    return []
