"""The screenshot: Chromium renders the page (every request through the same fetcher),
and a date/time banner is composed above the page's own pixels.

Chromium asks for the final URL and is answered from the visit already made, so the
screenshot shows the very HTML that is stored. The rendered DOM at the moment of the
screenshot is kept beside it; a page that would not hold still on the fetched document
fails the capture (cases.evidence.capture.browser says why).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from cases.evidence.capture.banner import stamp_screenshot
from cases.evidence.capture.browser import BrowserResult, browser_capture
from cases.evidence.capture.options import TOOL_NAME, PipelineOptions, tool_version
from cases.evidence.capture.output import Artefact, CaptureOutput
from cases.evidence.capture.warc import WarcScreenshot
from cases.kernel.net.connection import Connector, Resolver
from cases.kernel.net.fetcher import FetchResult
from cases.kernel.net.policy import Policy


@dataclass
class Screenshot:
    """The browser's result, and what of it goes into the WARC: the unstamped picture and
    the rendered DOM (URL, HTML, time), when a screenshot was taken."""

    browser: BrowserResult
    raw: WarcScreenshot | None = None
    dom: tuple[str, bytes, datetime] | None = None


def screenshot_take(
    out: CaptureOutput,
    main: FetchResult,
    label: str,
    *,
    policy: Policy,
    options: PipelineOptions,
    resolver: Resolver | None,
    connector: Connector | None,
) -> Screenshot:
    """Render the visited page, add the screenshot and rendered DOM artefacts to `out`,
    and note in `out.details["browser"]` what the page did."""
    sub_policy = replace(
        policy, total_deadline=min(policy.total_deadline, options.subresource_deadline_s)
    )
    # Chromium asks for the final URL, answered from the visit already made: the
    # screenshot shows the very HTML that is stored, without a second request.
    result = browser_capture(
        main.final_url,
        policy=sub_policy,
        options=options.browser,
        prefetched={main.final_url: main},
        resolver=resolver,
        connector=connector,
    )
    shot = Screenshot(result)
    info: dict[str, Any] = {
        "chromium": result.chromium_version,
        "error": result.error or result.integrity_error,
        "page_height": result.page_height,
        "cut_at_height": result.cut_at_height,
        "load_timed_out": result.load_timed_out,
        "requests": [r.as_dict() for r in result.requests[:300]],
        "request_count": len(result.requests),
        "refused": [{"url": r.url, "reason": r.reason} for r in result.refused[:100]],
        # What the page did while it was open, and what was on screen when it was shot.
        "navigations": result.navigations,
        "windows_opened": result.windows_opened,
        "document_rewritten": result.document_rewritten,
        "displayed_url": result.displayed_url,
        "frozen": result.frozen,
        "dom_sha256_before": result.dom_sha256_before,
        "dom_sha256_after": result.dom_sha256_after,
    }
    if result.integrity_error:
        # The page would not hold still on the document that was fetched: nothing the
        # browser saw is kept, and the capture says why.
        out.status, out.error = "failed", result.integrity_error
    if result.ok and result.taken_at is not None:
        tool = f"{TOOL_NAME} {tool_version(result.chromium_version)} · {label}"
        # The banner names the URL in the address bar at the moment of the screenshot
        # (a page may change it with history.pushState), and the one it was loaded from
        # when they differ.
        shown = result.displayed_url or main.final_url
        stamped, banner = stamp_screenshot(
            result.png,
            taken_at=result.taken_at,
            url=shown,
            tool=tool,
            loaded_url=main.final_url if shown != main.final_url else "",
        )
        info.update(
            {
                "taken_at": result.taken_at.isoformat(),
                "banner_height": banner,
                "banner_url": shown,
                "raw_png_sha256": hashlib.sha256(result.png).hexdigest(),
                "dom_sha256": hashlib.sha256(result.dom_html).hexdigest(),
                "note": "The banner above the page (banner_height px) was added by the tool; "
                "the page's pixels below it are as Chromium rendered them.",
            }
        )
        out.artefacts.append(
            Artefact("screenshot", stamped, f"{label}-screenshot.png", "image/png", shown)
        )
        # The document the screenshot shows, as Chromium held it at that moment (the
        # HTML as served is the "html" artefact; scripts may have changed the page).
        out.artefacts.append(
            Artefact(
                "dom",
                result.dom_html,
                f"{label}-rendered-dom.html",
                "text/html",
                shown,
            )
        )
        shot.raw = WarcScreenshot(shown, result.png, result.taken_at)
        shot.dom = (shown, result.dom_html, result.taken_at)
    out.details["browser"] = info
    out.details["refused_urls"] = [r.url for r in result.refused[:100]]
    return shot
