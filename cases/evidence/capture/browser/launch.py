"""The capture Chromium: its launch flags, its settings, and the one browser per process.

The flags cut off below request interception whatever could reach the network without it
(the dead proxy, no name resolution, no WebRTC probing); the package docstring says why
each is there. Starting Playwright and Chromium costs about a second, as much as a
capture, so each worker process keeps one browser between captures, in a thread of its
own with its own event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

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


class BrowserHost:
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

    async def close(self) -> None:
        browser, playwright = self.browser, self.playwright
        self.browser = self.playwright = None
        with contextlib.suppress(Exception):
            if browser is not None:
                await browser.close()
        with contextlib.suppress(Exception):
            if playwright is not None:
                await playwright.stop()

    async def launched(self, path: str) -> Any:
        """The running browser, (re)launched when it is gone, worn out or another binary."""
        from playwright.async_api import async_playwright

        stale = self.browser is None or not self.browser.is_connected()
        if stale or self.uses >= self.MAX_USES or path != self.path:
            await self.close()
            self.playwright = await async_playwright().start()
            self.browser = await self.playwright.chromium.launch(
                executable_path=path, args=list(CHROMIUM_ARGS), timeout=30_000
            )
            self.path, self.uses = path, 0
        self.uses += 1
        return self.browser

    def run(self, work: Callable[[], Coroutine[Any, Any, T]], timeout: float) -> T:
        """Run `work()` on the browser's loop, one at a time, within `timeout` seconds."""
        with self.lock:
            loop = self._ensure_loop()
            future = asyncio.run_coroutine_threadsafe(asyncio.wait_for(work(), timeout), loop)
            try:
                return future.result(timeout + 30)
            except BaseException:
                future.cancel()
                # Whatever went wrong may have left the browser in a bad state: start over.
                with contextlib.suppress(Exception):
                    asyncio.run_coroutine_threadsafe(self.close(), loop).result(30)
                raise


HOST = BrowserHost()
