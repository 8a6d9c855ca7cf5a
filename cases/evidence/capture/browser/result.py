"""What one browser visit yields: the picture, the document, and every request and
navigation the page made."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cases.kernel.net.fetcher import FetchResult


@dataclass
class BrowserRequest:
    """One request the page made and what we did with it."""

    url: str
    method: str
    resource_type: str
    action: str  # "fulfilled", "refused" (network policy), "blocked" (method, cap), "failed"
    reason: str = ""
    status: int | None = None
    result: FetchResult | None = None  # the fetcher's exchange, for the WARC
    after_freeze: bool = False  # asked for after scripts were stopped (e.g. a late image)

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "method": self.method,
            "type": self.resource_type,
            "action": self.action,
            "reason": self.reason,
            "status": self.status,
            "after_freeze": self.after_freeze,
        }


@dataclass
class BrowserResult:
    png: bytes = b""  # the page as Chromium rendered it, unmodified
    error: str = ""
    chromium_version: str = ""
    taken_at: datetime | None = None
    page_height: int = 0
    cut_at_height: int | None = None
    load_timed_out: bool = False
    requests: list[BrowserRequest] = field(default_factory=list)
    # What happened to the page while it was open (see Session.note), and the address
    # bar's URL at the moment of the screenshot.
    navigations: list[dict[str, Any]] = field(default_factory=list)
    windows_opened: list[dict[str, Any]] = field(default_factory=list)
    document_rewritten: bool = False
    displayed_url: str = ""
    # The document as rendered at the screenshot's moment (DOM serialised by Chromium).
    dom_html: bytes = b""
    frozen: bool = False
    dom_sha256_before: str = ""
    dom_sha256_after: str = ""
    # Set when the capture must not be used: the page left the document it was loaded with,
    # or changed between the screenshot and the DOM snapshot.
    integrity_error: str = ""

    @property
    def ok(self) -> bool:
        return bool(self.png) and not self.integrity_error

    @property
    def refused(self) -> list[BrowserRequest]:
        return [r for r in self.requests if r.action == "refused"]
