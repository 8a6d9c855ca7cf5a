"""Chromium obeys the network policy: a hostile page cannot make it fetch an internal address.

The hostile page names an internal service (a local server standing in for a metadata
service or an admin port) in every way a page can ask for a URL: <img>, <iframe>, CSS
url() and a stylesheet link, prefetch, fetch(), XHR, a beacon, EventSource, a WebSocket,
a Web Worker's fetch and WebSocket, a redirect from the suspect site, a name that
resolves to 127.0.0.1, and numeric and IPv6 spellings of loopback, plus the cloud
metadata address. The internal service counts every request it receives.

A control run first loads the same page in plain Chromium without our protections and
checks that the internal service does receive requests: proof that the page is really
hostile and that the counter works, so that zero hits afterwards means something."""

from __future__ import annotations

import asyncio
import threading

import pytest

from cases.evidence.capture.banner import stamp_screenshot
from cases.evidence.capture.browser import BrowserOptions, browser_capture
from cases.evidence.models import CaptureStatus, Evidence
from cases.evidence.services.captures import capture_request, capture_run
from cases.kernel.net.policy import Policy
from tests.capture.capture_site import InternalService, SuspectSite, png_bytes, site_url
from tests.factories import make_finding

pytestmark = pytest.mark.browser


def _unprotected_visit(chromium: str, url: str) -> None:
    """Plain headless Chromium, no interception, no proxy: what we must never run."""

    async def visit() -> None:
        from playwright.async_api import async_playwright

        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=chromium, args=["--no-sandbox"]
            )
            page = await browser.new_page()
            await page.goto(url, wait_until="load", timeout=20_000)
            await page.wait_for_timeout(1500)
            await browser.close()

    thread = threading.Thread(target=lambda: asyncio.run(visit()))
    thread.start()
    thread.join(60)


def test_the_hostile_page_does_reach_the_internal_service_without_protections(
    chromium, site: SuspectSite, internal: InternalService
) -> None:
    _unprotected_visit(chromium, f"http://127.0.0.1:{site.port}/hostile")

    assert any("secret" in hit for hit in internal.hits), internal.hits


@pytest.mark.django_db
def test_a_hostile_page_cannot_make_chromium_fetch_an_internal_address(
    chromium, agency, bob, network, site: SuspectSite, internal: InternalService
) -> None:  # type: ignore[no-untyped-def]
    finding = make_finding(agency, site_url("/hostile"), actor=bob)

    capture = capture_run(
        capture_id=capture_request(finding=finding, actor=bob).pk, **network.kwargs
    )

    assert internal.hits == []
    # The capture still completes, with its screenshot, and documents every refusal.
    assert capture is not None and capture.status == CaptureStatus.DONE, capture.error
    assert Evidence.objects.filter(capture=capture, kind="screenshot").exists()
    browser = capture.details["browser"]
    assert browser["error"] == ""
    refused = {item["url"]: item["reason"] for item in browser["refused"]}
    port = internal.port
    for url in (
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        f"http://127.0.0.1:{port}/secret-img",
        f"http://127.0.0.1:{port}/secret-hex",  # 0x7f.1, as Chromium normalises it
        f"http://127.0.0.1:{port}/secret-decimal",  # 2130706433
        f"http://[::1]:{port}/secret-v6",
        f"http://rebind.test:{port}/secret-rebind",
        f"http://127.0.0.1:{port}/secret-frame",
        f"http://127.0.0.1:{port}/secret-fetch",
        f"http://127.0.0.1:{port}/css-bg",
        f"http://localhost:{port}/css-link",
        f"http://127.0.0.1:{port}/secret-worker",
        site_url(f"/redirect-inside?port={port}"),
    ):
        assert url in refused, url
    assert (
        "link-local" in refused["http://169.254.169.254/latest/meta-data/iam/security-credentials/"]
    )
    assert "resolves to 127.0.0.1" in refused[f"http://rebind.test:{port}/secret-rebind"]
    blocked = [r for r in browser["requests"] if r["action"] == "blocked"]
    assert any(r["method"] == "POST" for r in blocked)  # the beacon is never sent
    assert capture.details["refused_urls"]
    # Only the suspect site's public address was ever dialled.
    assert {ip for ip, _port in network.dialled} == {"93.184.216.34"}


def test_a_page_fetched_with_loopback_allowed_still_cannot_reach_other_ports(
    chromium, site: SuspectSite, internal: InternalService
) -> None:
    # The test switch allows loopback, but only the site's port: the internal service's
    # port is refused, and the dead proxy stops the WebSockets interception cannot see.
    policy = Policy(allow_loopback=True, allowed_ports=frozenset({site.port}))
    result = browser_capture(
        f"http://127.0.0.1:{site.port}/hostile",
        policy=policy,
        options=BrowserOptions(settle_ms=1500),
    )

    assert result.ok, result.error
    assert internal.hits == []
    assert any(f":{internal.port}/" in r.url and "Port" in r.reason for r in result.refused)


def test_a_page_whose_image_hangs_is_still_shot_when_the_load_times_out(
    chromium, site: SuspectSite, network
) -> None:  # type: ignore[no-untyped-def]
    site.slow_seconds = 5.0
    options = BrowserOptions(page_timeout_s=1.5, settle_ms=200)

    result = browser_capture(site_url("/slow"), policy=Policy(), options=options, **network.kwargs)

    assert result.ok, result.error
    assert result.load_timed_out
    # The browser is still usable for the next capture (given the usual time to load: 1.5 s
    # for the page's images and video is too short on a loaded test machine).
    site.slow_seconds = 0
    again = browser_capture(
        site_url("/page"), policy=Policy(), options=BrowserOptions(settle_ms=200), **network.kwargs
    )
    assert again.ok and not again.load_timed_out


def test_the_screenshot_banner_states_date_time_and_url_above_the_unchanged_page() -> None:
    from datetime import UTC, datetime
    from io import BytesIO

    from PIL import Image

    page = png_bytes((800, 600), (10, 20, 30))
    stamped, banner = stamp_screenshot(
        page, taken_at=datetime(2025, 3, 1, 12, 0, tzinfo=UTC), url="http://site.test/x", tool="t"
    )

    image = Image.open(BytesIO(stamped))
    assert image.size == (800, 600 + banner)
    original = Image.open(BytesIO(page)).convert("RGB")
    assert image.crop((0, banner, 800, 600 + banner)).tobytes() == original.tobytes()
    assert image.getpixel((2, 2)) != original.getpixel((2, 2))  # the banner is there


def test_the_banner_names_the_loaded_url_too_only_when_the_page_changed_the_address() -> None:
    from datetime import UTC, datetime

    page = png_bytes((800, 600), (10, 20, 30))
    moment = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)

    _, same = stamp_screenshot(page, taken_at=moment, url="http://site.test/x", tool="t")
    _, changed = stamp_screenshot(
        page, taken_at=moment, url="http://site.test/pushed", tool="t",
        loaded_url="http://site.test/x",
    )  # fmt: skip

    assert changed == same + 22  # one more line: "Loaded from: ..."
