"""What a capture produced: its files (artefacts) and the facts the service records.

The pipeline fills a CaptureOutput step by step; the service
(cases.evidence.services.captures) turns it into Evidence in one transaction.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any

from cases.evidence.capture.observation import Observation


@dataclass
class Artefact:
    """One file the capture produced, before it becomes Evidence."""

    kind: str  # an EvidenceKind value
    data: bytes | IO[bytes]
    name: str
    media_type: str
    url: str = ""  # where it came from (media), for the capture's manifest


@dataclass
class CaptureOutput:
    """Everything the service needs to record the capture (JSON-able but for artefacts)."""

    status: str  # "done", "failed" or "refused" (CaptureStatus values)
    outcome: str  # a FetchOutcome value
    requested_url: str
    final_url: str = ""
    error: str = ""
    redirect_chain: list[dict[str, Any]] = field(default_factory=list)
    http_status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    resolved_ip: str | None = None
    collector_ip: str | None = None
    tool_version: str = ""
    tool_settings: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    artefacts: list[Artefact] = field(default_factory=list)
    # What the visit says about the content (an Observation value) and why ("http_404",
    # "removed_page: <signature>", "dns_error", "http_503").
    observation: str = ""
    observation_reason: str = ""
    observed_at: datetime | None = None

    @property
    def gone(self) -> bool:
        """The platform said the content is removed (one observation: not yet a verdict)."""
        return self.observation == Observation.REMOVED

    @property
    def live(self) -> bool:
        """The content answered: a successful response that is not a removal page."""
        return self.observation == Observation.LIVE


def artefact_bytes(artefact: Artefact) -> bytes:
    """The artefact's bytes (tests and the bench hash them)."""
    if isinstance(artefact.data, bytes):
        return artefact.data
    artefact.data.seek(0)
    data = artefact.data.read()
    artefact.data.seek(0)
    return data


def canonical_json_bytes(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, indent=1, default=str).encode()
