"""What a capture is asked to do, and the tool that does it: the pipeline's options (kept
with every capture as its tool settings), its progress steps and its version string."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from cases.evidence.capture.browser import BrowserOptions
from cases.evidence.capture.observation import RemovalSignature
from cases.evidence.capture.wacz import WaczSigner
from cases.kernel.net.policy import Policy

TOOL_NAME = "AgencyGuard capture"

Progress = Callable[[int, str], None]


class Step:
    """Step codes stored on Capture.step; the UI translates them."""

    QUEUED = "queued"
    FETCHING = "fetching"
    SAVING = "saving"
    SCREENSHOT = "screenshot"
    MEDIA = "media"
    WARC = "warc"
    WACZ = "wacz"
    STORING = "storing"
    DONE = "done"


@dataclass(frozen=True)
class PipelineOptions:
    """What one capture does, within which caps."""

    screenshot: bool = True
    collect_media: bool = True
    media_max_items: int = 10
    media_max_bytes: int = 50 * 1024 * 1024
    media_total_bytes: int = 200 * 1024 * 1024
    subresource_deadline_s: float = 20.0
    browser: BrowserOptions = field(default_factory=BrowserOptions)
    # The agency's active removal signatures (the service reads them from the database).
    removal_signatures: tuple[RemovalSignature, ...] = ()
    # The WARC packaged as a WACZ too, signed when a key is configured.
    wacz: bool = True
    wacz_signer: WaczSigner | None = None

    def as_settings(self, policy: Policy) -> dict[str, Any]:
        return {
            "policy": {
                "allowed_ports": sorted(policy.allowed_ports),
                "max_redirects": policy.max_redirects,
                "connect_timeout_s": policy.connect_timeout,
                "read_timeout_s": policy.read_timeout,
                "total_deadline_s": policy.total_deadline,
                "max_body_bytes": policy.max_body_bytes,
                "max_decompressed_bytes": policy.max_decompressed_bytes,
                "allow_loopback": policy.allow_loopback,
                "user_agent": policy.user_agent,
            },
            "screenshot": self.screenshot,
            "browser": self.browser.as_settings() if self.screenshot else None,
            "media": {
                "collect": self.collect_media,
                "max_items": self.media_max_items,
                "max_bytes": self.media_max_bytes,
                "total_bytes": self.media_total_bytes,
            },
            "removal_signatures": [
                {"name": sig.name, "pattern": sig.pattern, "regex": sig.is_regex}
                for sig in self.removal_signatures
            ],
            "wacz": {
                "build": self.wacz,
                "signing": "anonymous ECDSA (WACZ signing 0.1.0)"
                if self.wacz_signer is not None
                else "not signed",
            },
        }


def tool_version(chromium: str = "") -> str:
    """This tool's version, with warcio's and Chromium's (when a browser ran)."""
    try:
        own = metadata.version("agencyguard")
    except metadata.PackageNotFoundError:
        own = "unknown"
    parts = [own, f"warcio {metadata.version('warcio')}"]
    if chromium:
        parts.append(f"Chromium {chromium}")
    return "; ".join(parts)[:100]
