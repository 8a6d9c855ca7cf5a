"""The provenance Signal: one finding about a file's origin, its strength, and its wording.

Strength: "strong" is a positive statement that the item is AI-generated or AI-edited
(a manifest declaring trainedAlgorithmicMedia, an SD watermark, a generator's parameters);
"weak" is a hint (a damaged manifest that declares an AI source, a partial watermark);
"info" is provenance that says nothing about AI (a camera's C2PA manifest).

Summaries are English with their template and parameters kept in `details`, so the web UI
can show them in the reader's language (`gettext(details["message"]) % details["params"]`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


def gettext_noop(text: str) -> str:
    """Marks a string for makemessages without importing Django (this module is pure)."""
    return text


class Kind:
    """Which reader found the signal."""

    C2PA = "c2pa"
    IPTC = "iptc_digital_source_type"
    PNG_TEXT = "png_text"
    EXIF_SOFTWARE = "exif_software"
    SD_WATERMARK = "sd_watermark"


class Strength:
    """How much the signal says about AI (see the module docstring)."""

    STRONG = "strong"
    WEAK = "weak"
    INFO = "info"


@dataclass(frozen=True)
class Signal:
    """One provenance finding about a file. `summary` is user-facing English; `details`
    holds the raw facts (and `message`/`params` for translation)."""

    kind: str
    strength: str
    summary: str
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Signal:
        return cls(
            kind=str(data.get("kind", "")),
            strength=str(data.get("strength", Strength.INFO)),
            summary=str(data.get("summary", "")),
            details=dict(data.get("details") or {}),
        )

    @property
    def indicates_ai(self) -> bool:
        return self.strength in (Strength.STRONG, Strength.WEAK)


def make_signal(
    kind: str, strength: str, message: str, details: dict[str, Any] | None = None, **params: Any
) -> Signal:
    """A Signal whose summary is `message % params`, followed by any further sentences
    in `details["statements"]`; the template and parameters stay in `details`."""
    params = {k: str(v) for k, v in params.items()}
    details = {**(details or {}), "message": message, "params": params}
    # Further sentences (a C2PA manifest's validity), each a message with its own params.
    summary = " ".join(
        [message % params, *(s["message"] % s["params"] for s in details.get("statements", []))]
    )
    return Signal(kind=kind, strength=strength, summary=summary, details=details)


def strength_rank(strength: str) -> int:
    """Orders strengths for max(): strong above weak above info."""
    return {Strength.STRONG: 2, Strength.WEAK: 1}.get(strength, 0)
