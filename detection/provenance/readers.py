"""Every provenance reader on one file, and which of them this process cannot run.

Each reader is independent and never raises: a reader that cannot parse the file simply
finds nothing, and one that fails anyway is logged and left out.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Callable
from typing import Any

from detection.provenance.c2pa import c2pa_signals
from detection.provenance.metadata import exif_signals, png_text, text_chunk_signals, xmp_signals
from detection.provenance.signal import Kind, Signal, Strength
from detection.provenance.watermarks import watermark_signals

log = logging.getLogger(__name__)


def _open_image(data: bytes) -> Any:
    from PIL import Image

    try:
        image = Image.open(io.BytesIO(data))
        image.size  # noqa: B018  (forces the header parse)
        return image
    except Exception:
        return None


def provenance_signals(
    data: bytes, media_type: str = "", *, trust_anchors_pem: str | None = None
) -> list[Signal]:
    """Every provenance signal found in the file, strongest first. Never raises."""
    readers: list[Callable[[], list[Signal]]] = [
        lambda: c2pa_signals(data, media_type, trust_anchors_pem=trust_anchors_pem)
    ]
    image = _open_image(data) if not media_type.startswith("video/") else None
    readers.append(lambda: xmp_signals(image, data))
    if image is not None:
        readers.append(lambda: text_chunk_signals(png_text(image), Kind.PNG_TEXT))
        readers.append(lambda: exif_signals(image))
        readers.append(lambda: watermark_signals(image))
    signals: list[Signal] = []
    for reader in readers:
        try:
            signals.extend(reader())
        except Exception:
            log.exception("a provenance reader failed; its signal is left out")
    order = {Strength.STRONG: 0, Strength.WEAK: 1, Strength.INFO: 2}
    return sorted(signals, key=lambda s: order.get(s.strength, 3))


# Which reader needs which module; a missing one means the check did not run.
READER_MODULES = {
    Kind.C2PA: ("c2pa", "c2pa-python"),
    Kind.IPTC: ("defusedxml", "defusedxml"),
    Kind.SD_WATERMARK: ("imwatermark", "invisible-watermark (with PyWavelets and OpenCV)"),
}


def provenance_unavailable() -> list[dict[str, str]]:
    """The checks this process cannot run because a package is missing, so "no signal" is
    never claimed for a check that did not happen."""
    import importlib

    missing = []
    for kind, (module, package) in READER_MODULES.items():
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append({"kind": kind, "package": package})
        except Exception as exc:  # e.g. OpenCV present but broken
            missing.append({"kind": kind, "package": f"{package} ({type(exc).__name__})"})
    return missing
