"""Metadata a generator or an editor writes: IPTC DigitalSourceType and CreatorTool in
XMP (Pillow's getxmp, which needs defusedxml, else a bounded byte scan), generation
parameters in PNG text chunks (AUTOMATIC1111 `parameters`, ComfyUI `prompt` and
`workflow`, InvokeAI, NovelAI) and in EXIF UserComment, and EXIF Software or Make naming
a known generator or face-swap tool."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from detection.provenance.signal import (
    Kind,
    Signal,
    Strength,
    gettext_noop,
    make_signal,
    strength_rank,
)
from detection.provenance.vocabulary import AI_SOURCE_TYPES, generator_named_in, source_type_code

# Above this the pixel-level checks are skipped (metadata is still read): a 12,000-pixel-wide
# frame must not take the worker's memory with it.
MAX_PIXELS = 40_000_000
_XMP_SOURCE_TYPE = re.compile(rb"digitalsourcetype/([A-Za-z]+)", re.IGNORECASE)
_XMP_CREATOR_TOOL = re.compile(rb"CreatorTool(?:>|=\")([^<\"]{1,200})", re.IGNORECASE)
XMP_SCAN_BYTES = 4 * 1024 * 1024


def _walk(value: Any) -> Iterable[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield str(key), inner
            yield from _walk(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _walk(inner)


def _xmp_facts(image: Any, data: bytes) -> tuple[set[str], set[str]]:
    """(digital source type codes, creator tools) from XMP: parsed where Pillow can, else a
    bounded byte scan (videos, and images whose XMP Pillow does not expose)."""
    codes: set[str] = set()
    tools: set[str] = set()
    if image is not None:
        try:
            xmp = image.getxmp()
        except Exception:
            xmp = {}
        for key, value in _walk(xmp):
            if key.endswith("DigitalSourceType") and isinstance(value, str):
                codes.add(source_type_code(value))
            elif key.endswith("CreatorTool") and isinstance(value, str):
                tools.add(value.strip())
    head, tail = (
        data[:XMP_SCAN_BYTES],
        data[-XMP_SCAN_BYTES:] if len(data) > XMP_SCAN_BYTES else b"",
    )
    for chunk in (head, tail):
        if b"xmpmeta" not in chunk and b"DigitalSourceType" not in chunk:
            continue
        for match in _XMP_SOURCE_TYPE.finditer(chunk):
            codes.add(match.group(1).decode("ascii", "replace"))
        for match in _XMP_CREATOR_TOOL.finditer(chunk):
            tools.add(match.group(1).decode("utf-8", "replace").strip())
    return codes, tools


def xmp_signals(image: Any, data: bytes) -> list[Signal]:
    codes, tools = _xmp_facts(image, data)
    signals = []
    ai_codes = sorted(code for code in codes if code in AI_SOURCE_TYPES)
    if ai_codes:
        strength = max((AI_SOURCE_TYPES[code] for code in ai_codes), key=strength_rank)
        signals.append(
            make_signal(
                Kind.IPTC,
                strength,
                gettext_noop("The XMP metadata declares the IPTC digital source type %(types)s."),
                {"digital_source_types": ai_codes, "all_source_types": sorted(codes)},
                types=", ".join(ai_codes),
            )
        )
    elif codes:
        signals.append(
            make_signal(
                Kind.IPTC,
                Strength.INFO,
                gettext_noop(
                    "The XMP metadata declares the IPTC digital source type %(types)s, which is not an AI source."
                ),
                {"digital_source_types": [], "all_source_types": sorted(codes)},
                types=", ".join(sorted(codes)),
            )
        )
    for tool in sorted(tools):
        name = generator_named_in(tool)
        if name:
            signals.append(
                make_signal(
                    Kind.EXIF_SOFTWARE,
                    Strength.STRONG,
                    gettext_noop('The XMP CreatorTool names the generator %(name)s ("%(value)s").'),
                    {"field": "xmp:CreatorTool", "value": tool[:200], "generator_name": name},
                    name=name,
                    value=tool[:200],
                )
            )
    return signals


# Keys whose presence alone means a generator wrote the file (lower-case).
GENERATOR_TEXT_KEYS = {
    "invokeai_metadata": "InvokeAI",
    "invokeai_graph": "InvokeAI",
    "sd-metadata": "InvokeAI",
    "dream": "InvokeAI",
    "fooocus_scheme": "Fooocus",
}
_A1111_MARKERS = ("Steps:", "Sampler:", "CFG scale:", "Seed:")


def _looks_like_comfyui(value: str) -> bool:
    try:
        graph = json.loads(value)
    except ValueError:
        return False
    text = json.dumps(graph)[:200_000]
    return any(
        marker in text for marker in ('"class_type"', "KSampler", "CheckpointLoader", '"nodes"')
    )


def text_chunk_signals(text: dict[str, str], field_kind: str) -> list[Signal]:
    """Signals from generator text: PNG tEXt/iTXt chunks, or EXIF UserComment (as 'parameters')."""
    lowered = {str(k).lower(): str(v) for k, v in text.items()}
    found: list[tuple[str, str, str]] = []  # (generator, key, excerpt)
    params = lowered.get("parameters", "")
    if sum(marker in params for marker in _A1111_MARKERS) >= 2:
        found.append(("AUTOMATIC1111 / Stable Diffusion web UI", "parameters", params))
    for key in ("prompt", "workflow"):
        if key in lowered and _looks_like_comfyui(lowered[key]):
            found.append(("ComfyUI", key, lowered[key]))
    for key, name in GENERATOR_TEXT_KEYS.items():
        if key in lowered:
            found.append((name, key, lowered[key]))
    comment = lowered.get("comment", "")
    if lowered.get("software", "").strip().lower() == "novelai" or (
        '"steps"' in comment and '"sampler"' in comment
    ):
        found.append(("NovelAI", "Comment", comment or lowered.get("software", "")))
    software = lowered.get("software", "")
    named = generator_named_in(software) if software else None
    if named is not None and not any(generator == named for generator, _, _ in found):
        found.append((named, "Software", software))
    signals = []
    seen = set()
    for generator, key, value in found:
        if generator in seen:
            continue
        seen.add(generator)
        excerpt = " ".join(value.split())[:300]
        signals.append(
            make_signal(
                field_kind,
                Strength.STRONG,
                gettext_noop('Generation metadata of %(name)s found in the "%(key)s" field.'),
                {"generator_name": generator, "field": key, "excerpt": excerpt},
                name=generator,
                key=key,
            )
        )
    return signals


EXIF_SOFTWARE = 0x0131
EXIF_MAKE = 0x010F
EXIF_IFD = 0x8769
EXIF_USER_COMMENT = 0x9286


def _user_comment(raw: Any) -> str:
    if isinstance(raw, bytes):
        # EXIF UserComment starts with an 8-byte charset code; A1111 writes UNICODE (UTF-16).
        prefix, body = raw[:8], raw[8:]
        if prefix.startswith(b"UNICODE"):
            for encoding in ("utf-16-be", "utf-16-le"):
                text = body.decode(encoding, "replace")
                if "Steps" in text or "steps" in text:
                    return text
            return body.decode("utf-16-be", "replace")
        return (
            body.decode("utf-8", "replace")
            if prefix.startswith(b"ASCII")
            else raw.decode("utf-8", "replace")
        )
    return str(raw or "")


def exif_signals(image: Any) -> list[Signal]:
    try:
        exif = image.getexif()
    except Exception:
        return []
    signals = []
    for tag, label in ((EXIF_SOFTWARE, "Software"), (EXIF_MAKE, "Make")):
        value = exif.get(tag)
        if not value:
            continue
        value = str(value).strip().strip("\x00")
        name = generator_named_in(value)
        if name:
            signals.append(
                make_signal(
                    Kind.EXIF_SOFTWARE,
                    Strength.STRONG,
                    gettext_noop(
                        'The EXIF %(field)s field names the generator %(name)s ("%(value)s").'
                    ),
                    {"field": f"EXIF {label}", "value": value[:200], "generator_name": name},
                    field=label,
                    name=name,
                    value=value[:200],
                )
            )
    try:
        comment = _user_comment(exif.get_ifd(EXIF_IFD).get(EXIF_USER_COMMENT))
    except Exception:
        comment = ""
    if comment:
        signals += text_chunk_signals({"parameters": comment}, Kind.EXIF_SOFTWARE)
    return signals


def png_text(image: Any) -> dict[str, str]:
    if getattr(image, "format", "") != "PNG":
        return {}
    width, height = image.size
    # `.text` reads chunks after the image data too, which means decoding it: only when small.
    if width * height <= MAX_PIXELS:
        try:
            return {str(k): str(v) for k, v in image.text.items()}
        except Exception:
            pass
    return {str(k): str(v) for k, v in image.info.items() if isinstance(v, str)}
