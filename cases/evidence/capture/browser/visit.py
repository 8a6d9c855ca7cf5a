"""One browser visit from start to end: a fresh context on the process's Chromium, the
page loaded through the Session's routing, settled, frozen, shot and read twice, and the
integrity checks that decide whether the picture may be kept."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Mapping

from celery.exceptions import SoftTimeLimitExceeded

from cases.evidence.capture.browser.freeze import (
    left_document,
    navigation_watch,
    page_close,
    page_freeze,
)
from cases.evidence.capture.browser.launch import HOST, BrowserHost, BrowserOptions
from cases.evidence.capture.browser.read import displayed_url, dom_read, screenshot_take
from cases.evidence.capture.browser.result import BrowserResult
from cases.evidence.capture.browser.session import Session
from cases.kernel.net.connection import Connector, Resolver
from cases.kernel.net.fetcher import FetchResult
from cases.kernel.net.policy import Policy


async def _visit(host: BrowserHost, session: Session, url: str) -> BrowserResult:
    from playwright.async_api import TimeoutError as PlaywrightTimeoutError

    options = session.options
    out = BrowserResult()
    browser = await host.launched(options.chromium_path)
    out.chromium_version = browser.version
    context = await browser.new_context(
        viewport={"width": options.viewport_width, "height": options.viewport_height},
        user_agent=session.policy.user_agent,
        service_workers="block",
        accept_downloads=False,
        locale="ko-KR",
        timezone_id="Asia/Seoul",
    )
    try:
        await context.route("**/*", session.handle)
        page = await context.new_page()
        session.page = page
        # Any other page of the context is a window the page opened: closed at once.
        context.on(
            "page",
            lambda other: None if other is page else asyncio.ensure_future(page_close(other)),
        )
        cdp = await navigation_watch(context, page, session)
        try:
            await page.goto(url, wait_until="load", timeout=options.page_timeout_s * 1000)
        except PlaywrightTimeoutError:
            # Some subresource never finished (a tracker that hangs): the page is shot as
            # it is, and the capture says the load did not complete.
            out.load_timed_out = True
        with contextlib.suppress(Exception):  # a page that keeps polling is shot as is
            await page.wait_for_load_state("networkidle", timeout=options.settle_ms)
        await page_freeze(cdp, context, session)
        out.frozen = True
        before = await dom_read(cdp)
        out.displayed_url = await displayed_url(cdp)
        out.integrity_error = left_document(session)
        if not out.integrity_error:
            await screenshot_take(cdp, page, options, out)
            after = await dom_read(cdp)
            out.dom_html = after
            out.dom_sha256_before = hashlib.sha256(before).hexdigest()
            out.dom_sha256_after = hashlib.sha256(after).hexdigest()
            if before != after or await displayed_url(cdp) != out.displayed_url:
                out.integrity_error = (
                    "The page changed between the screenshot and the DOM snapshot "
                    "although its scripts were stopped."
                )
            out.integrity_error = out.integrity_error or left_document(session)
    finally:
        out.navigations = list(session.navigations)
        out.windows_opened = list(session.windows_opened)
        out.document_rewritten = session.document_rewritten
        with contextlib.suppress(Exception):
            await context.close()
    if out.integrity_error:
        out.png, out.dom_html = b"", b""  # never hand over a picture of another document
    return out


def browser_capture(
    url: str,
    *,
    policy: Policy,
    options: BrowserOptions,
    prefetched: Mapping[str, FetchResult] | None = None,
    resolver: Resolver | None = None,
    connector: Connector | None = None,
) -> BrowserResult:
    """Render `url` in headless Chromium and take a full-page PNG. Never raises for page or
    browser errors: the result's `error` says what went wrong, and `requests` lists every
    request the page made (refused ones included) either way.

    `prefetched` maps URLs to exchanges already made (the main document), which Chromium
    then gets without a second visit, so the screenshot shows the HTML that was stored."""
    session = Session(policy, options, prefetched or {}, resolver, connector)
    try:
        result = HOST.run(lambda: _visit(HOST, session, url), options.session_timeout_s)
    except TimeoutError:  # asyncio and concurrent.futures timeouts are TimeoutError on 3.11
        result = BrowserResult(error="The browser did not finish within its time limit.")
    except SoftTimeLimitExceeded:
        raise  # the task's time is up: stop the capture, do not carry on without a screenshot
    except Exception as exc:
        first_line = (str(exc).splitlines() or [""])[0][:500]
        result = BrowserResult(error=f"{type(exc).__name__}: {first_line}")
    finally:
        session.pool.shutdown(wait=False, cancel_futures=True)
    result.requests = list(session.requests)
    return result
