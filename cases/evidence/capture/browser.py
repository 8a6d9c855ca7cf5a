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

One frozen state of one document. The page is held on the document served for the URL:
every later main-frame navigation it attempts (a script changing `location`, a meta
refresh, a form, a reload) is refused at the route, and windows it opens are closed; each
attempt is recorded with its target and Chromium's reason. After load and settle, script
execution is switched off (CDP `Emulation.setScriptExecutionDisabled`) and loading
stopped, so that the screenshot and the rendered DOM snapshot show the same state; the DOM
is read before and after the screenshot and must not have changed. A page that left its
document anyway (for one that needs no request, such as about:blank) is refused: no
screenshot of another document is taken. docs/capture.md explains the choices.

No ORM in here: Playwright runs its own event loop, and this module runs it in a thread
of its own (with one browser kept per worker process, a fresh context per capture), so
the caller's Django connection never sees a running loop.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded

from cases.kernel.net.connection import Connector, Resolver
from cases.kernel.net.fetcher import REDIRECT_STATUSES, FetchResult, fetch
from cases.kernel.net.policy import Policy, PolicyRefused, check_url

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
    # Frames of other sites in the page's own renderer process: the page-wide switch that
    # stops scripts before the screenshot (Emulation.setScriptExecutionDisabled) does not
    # reach out-of-process frames. The capture browser holds no data of ours to isolate.
    "--disable-site-isolation-trials",
)
# Hop-by-hop and coding headers describe the bytes on the wire, not the decoded body that
# Chromium receives from us.
_DROPPED_HEADERS = frozenset(
    {"content-encoding", "content-length", "transfer-encoding", "connection", "keep-alive"}
)


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
    # What happened to the page while it was open (see _Session.note), and the address
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
        self.started = time.monotonic()
        self.deadline = self.started + options.session_timeout_s
        # The page under capture; its first main-frame document request is the visit
        # itself, every later one is refused.
        self.page: Any = None
        self.document_requested = False
        self.frozen = False
        self.navigations: list[dict[str, Any]] = []
        self.windows_opened: list[dict[str, Any]] = []
        self.document_rewritten = False
        self.main_frame_id = ""
        self.requested_reasons: dict[str, str] = {}

    # -- what Chromium reports about the page (CDP Page domain events) ---------------------

    def on_requested_navigation(self, event: dict[str, Any]) -> None:
        if event.get("frameId") == self.main_frame_id:
            self.requested_reasons[event.get("url", "")] = event.get("reason", "")

    def on_frame_navigated(self, event: dict[str, Any]) -> None:
        frame = event.get("frame") or {}
        if frame.get("parentId") or frame.get("id") != self.main_frame_id:
            return
        url = frame.get("url", "")
        loaded = [n for n in self.navigations if n["action"] in ("loaded", "left")]
        action = "left" if loaded else "loaded"
        self.note(action, url, reason=self.requested_reasons.get(url, ""))

    def on_same_document(self, event: dict[str, Any]) -> None:
        if event.get("frameId") == self.main_frame_id:
            self.note("same_document", event.get("url", ""), kind=event.get("navigationType", ""))

    def on_document_opened(self, event: dict[str, Any]) -> None:
        frame = event.get("frame") or {}
        if frame.get("id") == self.main_frame_id:
            self.document_rewritten = True
            self.note("document_opened", frame.get("url", ""))

    def on_window_open(self, event: dict[str, Any]) -> None:
        if len(self.windows_opened) < 50:
            self.windows_opened.append(
                {"url": event.get("url", ""), "name": event.get("windowName", ""),
                 "at_ms": self._at_ms()}
            )  # fmt: skip

    def _at_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)

    def note(self, action: str, url: str, **extra: Any) -> None:
        """One entry of the navigation record: "loaded" (the captured document), "blocked"
        (refused before any request, with Chromium's reason for the attempt when it gave
        one), "same_document" (history API or fragment: the address changed, the document
        did not), "document_opened" (document.open/write replaced the content), "left"
        (the main frame committed another document)."""
        if len(self.navigations) < 200:
            self.navigations.append({"action": action, "url": url, "at_ms": self._at_ms(), **extra})

    def _navigation_target(self, request: Any) -> str:
        """For a navigation request: "main" (the page's own frame), "window" (the top frame
        of another page, i.e. a popup) or "frame" (an iframe); "" for other requests."""
        try:
            if not request.is_navigation_request():
                return ""
        except Exception:
            return ""
        try:
            frame = request.frame
        except Exception:
            # Playwright has no frame yet for the first navigation of a window that is
            # being opened: never the page's own frame, which exists from the start.
            return "window"
        if frame.parent_frame is not None:
            return "frame"
        return "main" if frame.page is self.page else "window"

    def _refuse_navigation(self, request: Any, target: str) -> str:
        """Why this navigation request is refused, or "" to let it through."""
        if target == "main":
            if not self.document_requested:
                self.document_requested = True
                return ""
            return "The page tried to replace the captured document."
        if target == "window":
            return "The page tried to open another window."
        if target == "frame" and self.frozen:
            return "A frame tried to navigate after the page was frozen for the screenshot."
        return ""

    def _fetch(self, url: str) -> FetchResult:
        return fetch(url, self.policy, resolver=self.resolver, connector=self.connector)

    async def handle(self, route: Any) -> None:
        request = route.request
        entry = BrowserRequest(
            url=request.url,
            method=request.method,
            resource_type=request.resource_type,
            action="",
            after_freeze=self.frozen,
        )
        self.requests.append(entry)
        target = self._navigation_target(request)
        refusal = self._refuse_navigation(request, target) if target else ""
        if refusal:
            # ERR_ABORTED cancels the navigation without an error page: the frame keeps
            # the document it has.
            entry.action, entry.reason = "blocked", refusal
            reason = self.requested_reasons.get(request.url, "") if target == "main" else ""
            self.note("blocked", request.url, target=target, reason=reason, why=refusal)
            with contextlib.suppress(Exception):
                await route.abort("aborted")
            return
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
            session.page = page
            # Any other page of the context is a window the page opened: closed at once.
            context.on(
                "page",
                lambda other: None if other is page else asyncio.ensure_future(_close_page(other)),
            )
            cdp = await self._watch(context, page, session)
            try:
                await page.goto(url, wait_until="load", timeout=options.page_timeout_s * 1000)
            except PlaywrightTimeoutError:
                # Some subresource never finished (a tracker that hangs): the page is shot as
                # it is, and the capture says the load did not complete.
                out.load_timed_out = True
            with contextlib.suppress(Exception):  # a page that keeps polling is shot as is
                await page.wait_for_load_state("networkidle", timeout=options.settle_ms)
            await self._freeze(cdp, context, session)
            out.frozen = True
            before = await _dom(cdp)
            out.displayed_url = await _displayed_url(cdp)
            out.integrity_error = _left_document(session)
            if not out.integrity_error:
                await self._shoot(cdp, page, options, out)
                after = await _dom(cdp)
                out.dom_html = after
                out.dom_sha256_before = hashlib.sha256(before).hexdigest()
                out.dom_sha256_after = hashlib.sha256(after).hexdigest()
                if before != after or await _displayed_url(cdp) != out.displayed_url:
                    out.integrity_error = (
                        "The page changed between the screenshot and the DOM snapshot "
                        "although its scripts were stopped."
                    )
                out.integrity_error = out.integrity_error or _left_document(session)
        finally:
            out.navigations = list(session.navigations)
            out.windows_opened = list(session.windows_opened)
            out.document_rewritten = session.document_rewritten
            with contextlib.suppress(Exception):
                await context.close()
        if out.integrity_error:
            out.png, out.dom_html = b"", b""  # never hand over a picture of another document
        return out

    async def _watch(self, context: Any, page: Any, session: _Session) -> Any:
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

    async def _freeze(self, cdp: Any, context: Any, session: _Session) -> None:
        """Stop the page: no more script (timers, handlers, animation frames), no pending
        load, no navigation, no other window. What is on screen now is what is shot."""
        await cdp.send("Emulation.setScriptExecutionDisabled", {"value": True})
        session.frozen = True
        with contextlib.suppress(Exception):
            await cdp.send("Page.stopLoading")
        for other in context.pages:
            if other is not session.page:
                await _close_page(other)
        # Let events already on their way (a navigation committed just before the freeze)
        # arrive before the state is read.
        await asyncio.sleep(0.05)

    async def _shoot(
        self, cdp: Any, page: Any, options: BrowserOptions, out: BrowserResult
    ) -> None:
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


async def _close_page(page: Any) -> None:
    with contextlib.suppress(Exception):
        await page.close()


async def _dom(cdp: Any) -> bytes:
    """The document as Chromium holds it now, serialised by the browser (no page script
    runs for it, so it works with scripts off and a page cannot fake it)."""
    root = await cdp.send("DOM.getDocument", {"depth": 0})
    html = await cdp.send("DOM.getOuterHTML", {"nodeId": root["root"]["nodeId"]})
    return str(html.get("outerHTML", "")).encode("utf-8")


async def _displayed_url(cdp: Any) -> str:
    """The URL in the address bar: the current entry of the tab's history, from the
    browser (a page can change it with history.pushState, never fake it)."""
    history = await cdp.send("Page.getNavigationHistory")
    entries = history.get("entries") or []
    index = int(history.get("currentIndex", len(entries) - 1))
    return str(entries[index].get("url", "")) if entries else ""


def _left_document(session: _Session) -> str:
    """Why the page is no longer the document that was loaded, or ""."""
    left = [n for n in session.navigations if n["action"] == "left"]
    if not left:
        return ""
    return (
        f"The page replaced the captured document with {left[0]['url']} "
        f"{left[0]['at_ms']} ms into the visit; a screenshot would show another document "
        "than the one stored, so none was taken."
    )


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
