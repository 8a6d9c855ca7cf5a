"""The names provenance is read against: IPTC digital source types that state an
algorithm made the content, and the generators and face-swap tools that write their own
name into a file's metadata."""

from __future__ import annotations

import re
from typing import Any

from detection.provenance.signal import Strength

IPTC_PREFIX = "http://cv.iptc.org/newscodes/digitalsourcetype/"
# IPTC digital source types that state (part of) the content was made by an algorithm.
# https://cv.iptc.org/newscodes/digitalsourcetype/
AI_SOURCE_TYPES = {
    "trainedAlgorithmicMedia": Strength.STRONG,
    "compositeWithTrainedAlgorithmicMedia": Strength.STRONG,
    "algorithmicMedia": Strength.STRONG,
    "compositeSynthetic": Strength.STRONG,
    "algorithmicallyEnhanced": Strength.WEAK,
}

# Generators and face-swap tools that write their name into Software / CreatorTool /
# a C2PA claim generator. Word boundaries keep "imagenet" or "influx" from matching.
GENERATOR_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in [
        ("Midjourney", r"\bmidjourney\b"),
        ("DALL·E", r"\bdall[\W_]?e\b"),
        ("Stable Diffusion", r"\bstable[\s_-]?diffusion\b|\bsdxl\b"),
        ("Adobe Firefly", r"\bfirefly\b"),
        ("Google Imagen", r"\bimagen\b"),
        ("Google AI", r"made with google ai|\bgemini\b"),
        ("OpenAI", r"\bopenai\b|\bchatgpt\b|\bgpt-?4o\b|\bsora\b"),
        ("Microsoft Designer / Bing Image Creator", r"bing image creator|microsoft designer"),
        ("FLUX", r"\bflux(?:\.1)?\b"),
        ("NovelAI", r"\bnovel\s?ai\b"),
        ("ComfyUI", r"\bcomfy\s?ui\b"),
        ("AUTOMATIC1111", r"\bautomatic1111\b|\bstable-diffusion-webui\b"),
        ("InvokeAI", r"\binvoke\s?ai\b"),
        ("Fooocus", r"\bfooocus\b"),
        ("Leonardo.Ai", r"\bleonardo\.?ai\b"),
        ("Ideogram", r"\bideogram\b"),
        ("DreamStudio", r"\bdreamstudio\b"),
        ("Runway", r"\brunway(?:ml)?\b"),
        ("Kling", r"\bkling\b"),
        ("Pika", r"\bpika\b"),
        ("Grok", r"\bgrok\b"),
        ("Meta AI", r"\bmeta ai\b|\bimagine with meta\b"),
        ("DeepFaceLab", r"\bdeepfacelab\b"),
        ("FaceFusion", r"\bfacefusion\b"),
        ("FaceSwap", r"\bface\s?swap\b"),
        ("roop", r"\broop\b"),
        ("Deep-Live-Cam", r"\bdeep[\s-]?live[\s-]?cam\b"),
        ("Reface", r"\breface\b"),
    ]
]


def generator_named_in(text: str) -> str | None:
    """The known generator named in a free-text field, or None."""
    for name, pattern in GENERATOR_PATTERNS:
        if pattern.search(text):
            return name
    return None


def source_type_code(value: Any) -> str:
    """'http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia' →
    'trainedAlgorithmicMedia' (C2PA also accepts the bare code)."""
    return str(value).strip().rstrip("/").rsplit("/", 1)[-1]
