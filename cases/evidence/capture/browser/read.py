"""Reading the frozen page from the browser itself: the screenshot, the document as
Chromium holds it, and the URL in the address bar.

Everything here asks Chromium over CDP rather than page script, which a hostile page could
override (and which is switched off by then anyway).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cases.evidence.capture.browser.launch import BrowserOptions
from cases.evidence.capture.browser.result import BrowserResult


async def screenshot_take(cdp: Any, page: Any, options: BrowserOptions, out: BrowserResult) -> None:
    """The full page as PNG (cut at `max_height`), with its height and time, into `out`."""
    # The layout size from the browser itself (CDP), not from page script that a
    # hostile page could override.
    metrics = await cdp.send("Page.getLayoutMetrics")
    size = metrics.get("cssContentSize") or metrics.get("contentSize") or {}
    out.page_height = int(size.get("height", options.viewport_height))
    shot: dict[str, Any] = {"full_page": True, "animations": "disabled", "timeout": 30_000}
    if out.page_height > options.max_height:
        out.cut_at_height = options.max_height
        width = max(int(size.get("width", options.viewport_width)), 1)
        shot["clip"] = {"x": 0, "y": 0, "width": width, "height": options.max_height}
    out.png = await page.screenshot(type="png", **shot)
    out.taken_at = datetime.now(UTC)


async def dom_read(cdp: Any) -> bytes:
    """The document as Chromium holds it now, serialised by the browser (no page script
    runs for it, so it works with scripts off and a page cannot fake it)."""
    root = await cdp.send("DOM.getDocument", {"depth": 0})
    html = await cdp.send("DOM.getOuterHTML", {"nodeId": root["root"]["nodeId"]})
    return str(html.get("outerHTML", "")).encode("utf-8")


async def displayed_url(cdp: Any) -> str:
    """The URL in the address bar: the current entry of the tab's history, from the
    browser (a page can change it with history.pushState, never fake it)."""
    history = await cdp.send("Page.getNavigationHistory")
    entries = history.get("entries") or []
    index = int(history.get("currentIndex", len(entries) - 1))
    return str(entries[index].get("url", "")) if entries else ""
