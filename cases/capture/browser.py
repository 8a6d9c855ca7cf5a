"""The full-page screenshot: real headless Chromium whose every request goes through the
safe fetcher.

Chromium never touches the network itself. Playwright's request interception
(`context.route("**/*")`) hands every HTTP(S) request the page makes (documents, frames,
images, scripts, fetch/XHR, beacons, requests from workers) to `fetch()` under the same
`Policy` as the main visit, and answers Chromium with what the fetcher got (or aborts
the request when the policy refused it). What interception cannot see is cut off below
it, by launch flags:

* a dead proxy (`--proxy-server` to a closed local port, with `<-loopback>` so that
  loopback is not exempted) for WebSockets and anything else that escapes interception;
* `--host-resolver-rules=MAP * ~NOTFOUND`, so that Chromium cannot resolve any name,
  and DNS prefetching has nothing to ask;
* WebRTC limited to proxied UDP (which the dead proxy refuses), so ICE cannot probe;
* service workers blocked (they could fetch outside the page's interception) and
  downloads refused.

A redirect is never handed to Chromium as a 3xx (it would follow the Location itself,
outside interception): the fetcher follows and re-checks redirects and Chromium gets the
final answer. The main document is requested at the final URL the pipeline's visit
ended on, so relative links resolve as they did for the visitor.

No ORM in here: Playwright runs its own event loop, and this module runs it in a thread
of its own (with one browser kept per worker process, a fresh context per capture), so
the caller's Django connection never sees a running loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import io
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from celery.exceptions import SoftTimeLimitExceeded

from cases.capture.fetcher import REDIRECT_STATUSES, Connector, FetchResult, Resolver, fetch
from cases.capture.netpolicy import Policy, PolicyRefused, check_url

# Where nothing else listens: the discard port. Chromium's connections to this "proxy"
# fail at once, so whatever escapes interception goes nowhere.
DEAD_PROXY = "http://127.0.0.1:9"
CHROMIUM_ARGS = (
    "--no-sandbox",  # workers run in containers without user namespaces
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-domain-reliability",
    "--disable-breakpad",
    "--no-first-run",
    "--no-default-browser-check",
    "--no-pings",
    "--dns-prefetch-disable",
    "--metrics-recording-only",
    "--mute-audio",
    f"--proxy-server={DEAD_PROXY}",
    "--proxy-bypass-list=<-loopback>",
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
    "--webrtc-ip-handling-policy=disable_non_proxied_udp",
)
# Hop-by-hop and coding headers describe the bytes on the wire, not the decoded body that
# Chromium receives from us.
_DROPPED_HEADERS = frozenset(
    {"content-encoding", "content-length", "transfer-encoding", "connection", "keep-alive"}
)
KST = ZoneInfo("Asia/Seoul")


@dataclass(frozen=True)
class BrowserOptions:
    """How Chromium renders the page; recorded with the capture as the tool's settings."""

    chromium_path: str = "/usr/bin/chromium"
    viewport_width: int = 1366
    viewport_height: int = 900
    page_timeout_s: float = 30.0  # navigation until `load`
    settle_ms: int = 2000  # extra wait for network idle (late images), then shoot anyway
    max_height: int = 16000  # a taller page is cut at this height (noted on the capture)
    max_requests: int = 300  # subresource requests answered per page; the rest are aborted
    fetch_workers: int = 6  # subresources fetched in parallel
    session_timeout_s: float = 90.0  # hard cap on the whole browser session

    def as_settings(self) -> dict[str, Any]:
        return {
            "viewport": [self.viewport_width, self.viewport_height],
            "page_timeout_s": self.page_timeout_s,
            "settle_ms": self.settle_ms,
            "max_height": self.max_height,
            "max_requests": self.max_requests,
            "chromium_args": list(CHROMIUM_ARGS),
        }


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

    def as_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "method": self.method,
            "type": self.resource_type,
            "action": self.action,
            "reason": self.reason,
            "status": self.status,
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

    @property
    def ok(self) -> bool:
        return bool(self.png)

    @property
    def refused(self) -> list[BrowserRequest]:
        return [r for r in self.requests if r.action == "refused"]


def _fulfil_headers(result: FetchResult) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in result.headers:
        key = name.lower()
        if key in _DROPPED_HEADERS:
            continue
        separator = "\n" if key == "set-cookie" else ", "
        headers[key] = f"{headers[key]}{separator}{value}" if key in headers else value
    return headers


def _cache_key(url: str, policy: Policy) -> str:
    try:
        return check_url(url, policy).url
    except PolicyRefused:
        return url


class _Session:
    """The state of one browser visit: the answers already fetched and the request log."""

    def __init__(
        self,
        policy: Policy,
        options: BrowserOptions,
        prefetched: Mapping[str, FetchResult],
        resolver: Resolver | None,
        connector: Connector | None,
    ) -> None:
        self.policy = policy
        self.options = options
        self.resolver = resolver
        self.connector = connector
        self.cache: dict[str, FetchResult] = {}
        for url, result in prefetched.items():
            self.cache[_cache_key(url, policy)] = result
        self.requests: list[BrowserRequest] = []
        self.pool = concurrent.futures.ThreadPoolExecutor(
            options.fetch_workers, thread_name_prefix="capture-fetch"
        )
        self.deadline = time.monotonic() + options.session_timeout_s

    def _fetch(self, url: str) -> FetchResult:
        return fetch(url, self.policy, resolver=self.resolver, connector=self.connector)

    async def handle(self, route: Any) -> None:
        request = route.request
        entry = BrowserRequest(
            url=request.url, method=request.method, resource_type=request.resource_type, action=""
        )
        self.requests.append(entry)
        result = await self._answer(entry)
        # The page may be gone by now (the screenshot was taken, the context closed): an
        # answer nobody waits for is not an error.
        with contextlib.suppress(Exception):
            if entry.action == "fulfilled" and result is not None and result.final is not None:
                await route.fulfill(
                    status=result.final.status, headers=_fulfil_headers(result), body=result.body
                )
            else:
                await route.abort("blockedbyclient" if entry.action != "failed" else "failed")

    async def _answer(self, entry: BrowserRequest) -> FetchResult | None:
        """Decide what Chromium gets for one request; fills in `entry`."""
        if entry.method not in ("GET", "HEAD"):
            # The fetcher only reads. A page that posts (beacons, forms, analytics) gets
            # nothing sent on its behalf.
            entry.action, entry.reason = "blocked", f"{entry.method} requests are not sent."
            return None
        if len(self.requests) > self.options.max_requests:
            entry.action = "blocked"
            entry.reason = f"More than {self.options.max_requests} requests on one page."
            return None
        if time.monotonic() > self.deadline:
            entry.action, entry.reason = "blocked", "The page's time limit was exceeded."
            return None
        key = _cache_key(entry.url, self.policy)
        result = self.cache.get(key)
        if result is None:
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(self.pool, self._fetch, entry.url)
            self.cache[key] = result
            entry.result = result  # a fresh exchange, archived in the WARC
        if result.refused:
            entry.action, entry.reason = "refused", result.refused_reason
        elif result.final is None or result.final.status in REDIRECT_STATUSES:
            entry.action, entry.reason = "failed", result.message or "No final response."
        else:
            entry.action, entry.status = "fulfilled", result.final.status
            entry.reason = result.message  # e.g. a body cut at the size cap
        return result


class _BrowserHost:
    """One Chromium per worker process, kept between captures (starting Playwright and the
    browser costs about a second, as much as the capture itself). Each capture gets a fresh
    browser context, so nothing (cookies, cache, storage) carries over from one capture to
    the next. The browser lives in a thread of its own with its own event loop; it is
    relaunched when it crashed, after MAX_USES captures, and after a capture that timed out.
    """

    MAX_USES = 50

    def __init__(self) -> None:
        self.lock = threading.Lock()  # one capture at a time per process
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        self.playwright: Any = None
        self.browser: Any = None
        self.path = ""
        self.uses = 0

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        if self.loop is None or self.thread is None or not self.thread.is_alive():
            self.loop = asyncio.new_event_loop()
            self.thread = threading.Thread(
                target=self.loop.run_forever, name="capture-browser", daemon=True
            )
            self.thread.start()
            self.playwright = self.browser = None
        return self.loop

    async def _close(self) -> None:
        browser, playwright = self.browser, self.playwright
        self.browser = self.playwright = None
        with contextlib.suppress(Exception):
            if browser is not None:
                await browser.close()
        with contextlib.suppress(Exception):
            if playwright is not None:
                await playwright.stop()

    async def _browser(self, path: str) -> Any:
        from playwright.async_api import async_playwright

        stale = self.browser is None or not self.browser.is_connected()
        if stale or self.uses >= self.MAX_USES or path != self.path:
            await self._close()
            self.playwright = await async_playwright().start()
            self.browser = await self.playwright.chromium.launch(
                executable_path=path, args=list(CHROMIUM_ARGS), timeout=30_000
            )
            self.path, self.uses = path, 0
        self.uses += 1
        return self.browser

    async def _visit(self, session: _Session, url: str) -> BrowserResult:
        from playwright.async_api import TimeoutError as PlaywrightTimeoutError

        options = session.options
        out = BrowserResult()
        browser = await self._browser(options.chromium_path)
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
            try:
                await page.goto(url, wait_until="load", timeout=options.page_timeout_s * 1000)
            except PlaywrightTimeoutError:
                # Some subresource never finished (a tracker that hangs): the page is shot as
                # it is, and the capture says the load did not complete.
                out.load_timed_out = True
            with contextlib.suppress(Exception):  # a page that keeps polling is shot as is
                await page.wait_for_load_state("networkidle", timeout=options.settle_ms)
            # The layout size from the browser itself (CDP), not from page script that a
            # hostile page could override.
            cdp = await context.new_cdp_session(page)
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
        finally:
            with contextlib.suppress(Exception):
                await context.close()
        return out

    def visit(self, session: _Session, url: str) -> BrowserResult:
        timeout = session.options.session_timeout_s
        with self.lock:
            loop = self._ensure_loop()
            future = asyncio.run_coroutine_threadsafe(
                asyncio.wait_for(self._visit(session, url), timeout), loop
            )
            try:
                return future.result(timeout + 30)
            except BaseException:
                future.cancel()
                # Whatever went wrong may have left the browser in a bad state: start over.
                with contextlib.suppress(Exception):
                    asyncio.run_coroutine_threadsafe(self._close(), loop).result(30)
                raise


_HOST = _BrowserHost()


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
    session = _Session(policy, options, prefetched or {}, resolver, connector)
    try:
        result = _HOST.visit(session, url)
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


# --- the date/time banner ----------------------------------------------------------------

_FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
)


def _font(size: int) -> Any:
    from PIL import ImageFont

    for candidate in _FONT_CANDIDATES:
        if Path(candidate).exists():
            return ImageFont.truetype(candidate, size)
    return ImageFont.load_default(size=size)


def _wrap(text: str, width: int, font: Any, draw: Any) -> list[str]:
    lines, current = [], ""
    for char in text:
        if draw.textlength(current + char, font=font) > width and current:
            lines.append(current)
            current = ""
        current += char
    lines.append(current)
    return lines[:4]


def stamp_screenshot(png: bytes, *, taken_at: datetime, url: str, tool: str) -> tuple[bytes, int]:
    """The screenshot with a banner above it that states when (UTC and KST), what (URL)
    and with which tool it was taken. The page's pixels are not touched: they sit below
    the banner exactly as Chromium rendered them (returns the PNG and the banner height,
    which the capture records so the alteration is documented)."""
    from PIL import Image, ImageDraw

    page = Image.open(io.BytesIO(png), formats=["PNG"])
    page.load()
    width = max(page.width, 600)
    font = _font(15)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    utc = taken_at.astimezone(UTC)
    lines = [
        f"Captured {utc:%Y-%m-%d %H:%M:%S} UTC  ·  {utc.astimezone(KST):%Y-%m-%d %H:%M:%S} KST",
        *_wrap(f"URL: {url}", width - 24, font, probe),
        tool,
    ]
    line_height = 22
    banner = 12 + line_height * len(lines)
    out = Image.new("RGB", (width, banner + page.height), (255, 255, 255))
    draw = ImageDraw.Draw(out)
    draw.rectangle([0, 0, width, banner - 1], fill=(20, 24, 32))
    for index, line in enumerate(lines):
        draw.text((12, 6 + index * line_height), line, fill=(255, 255, 255), font=font)
    out.paste(page.convert("RGB"), (0, banner))
    buffer = io.BytesIO()
    out.save(buffer, format="PNG", optimize=False, compress_level=6)
    return buffer.getvalue(), banner
