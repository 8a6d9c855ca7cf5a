"""The state of one browser visit: every request the page makes, answered by the fetcher.

Each request Chromium intercepts is handed to `fetch()` under the visit's Policy (from a
pool of threads, answers cached by URL), and Chromium is answered with what the fetcher
got, or the request is aborted: refused by the policy, not a GET or HEAD, over the page's
request cap or past its time limit. The page's first main-frame document request is the
visit itself; every later one, and every window it opens, is refused, and what Chromium
reports about the main frame (CDP Page events) is kept as the navigation record.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import time
from collections.abc import Mapping
from typing import Any

from cases.evidence.capture.browser.launch import BrowserOptions
from cases.evidence.capture.browser.result import BrowserRequest
from cases.kernel.net.connection import Connector, Resolver
from cases.kernel.net.fetcher import REDIRECT_STATUSES, FetchResult, fetch
from cases.kernel.net.policy import Policy, PolicyRefused, check_url

# Hop-by-hop and coding headers describe the bytes on the wire, not the decoded body that
# Chromium receives from us.
_DROPPED_HEADERS = frozenset(
    {"content-encoding", "content-length", "transfer-encoding", "connection", "keep-alive"}
)


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


class Session:
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
