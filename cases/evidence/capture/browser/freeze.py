"""Holding the page still on the one document that was fetched.

Before the visit a CDP session reports every navigation Chromium sees to the Session's
record; after load and settle the page is frozen (no script, no pending load, no other
window), so that what is on screen is what is shot; a page that left its document anyway
is named here, and no screenshot of it is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from cases.evidence.capture.browser.session import Session


async def navigation_watch(context: Any, page: Any, session: Session) -> Any:
    """A CDP session on the page that reports every navigation Chromium sees, before
    the visit starts."""
    cdp = await context.new_cdp_session(page)
    await cdp.send("Page.enable")
    tree = await cdp.send("Page.getFrameTree")
    session.main_frame_id = tree["frameTree"]["frame"]["id"]
    cdp.on("Page.frameRequestedNavigation", session.on_requested_navigation)
    cdp.on("Page.frameNavigated", session.on_frame_navigated)
    cdp.on("Page.navigatedWithinDocument", session.on_same_document)
    cdp.on("Page.documentOpened", session.on_document_opened)
    cdp.on("Page.windowOpen", session.on_window_open)
    return cdp


async def page_freeze(cdp: Any, context: Any, session: Session) -> None:
    """Stop the page: no more script (timers, handlers, animation frames), no pending
    load, no navigation, no other window. What is on screen now is what is shot."""
    await cdp.send("Emulation.setScriptExecutionDisabled", {"value": True})
    session.frozen = True
    with contextlib.suppress(Exception):
        await cdp.send("Page.stopLoading")
    for other in context.pages:
        if other is not session.page:
            await page_close(other)
    # Let events already on their way (a navigation committed just before the freeze)
    # arrive before the state is read.
    await asyncio.sleep(0.05)


async def page_close(page: Any) -> None:
    with contextlib.suppress(Exception):
        await page.close()


def left_document(session: Session) -> str:
    """Why the page is no longer the document that was loaded, or ""."""
    left = [n for n in session.navigations if n["action"] == "left"]
    if not left:
        return ""
    return (
        f"The page replaced the captured document with {left[0]['url']} "
        f"{left[0]['at_ms']} ms into the visit; a screenshot would show another document "
        "than the one stored, so none was taken."
    )
