"""A page that changes what it shows after load never yields a screenshot of other content
than what the capture record and the stored HTML say was captured.

Each hostile page of the local site (tests/capture/capture_site.py, HOSTILE_PAGES) shows a
solid red background and a marker word; what it turns itself into is blue with another
marker. The tests read the colour of the screenshot just under the date/time banner and
check that the stored documents (the HTML as served and the rendered DOM snapshot) and
the record (navigations, displayed URL, banner URL) say the same thing."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from cases.evidence.capture.browser import BrowserOptions, browser_capture
from cases.evidence.capture.page import visible_text
from cases.evidence.models import Capture, CaptureStatus, Evidence
from cases.evidence.services.captures import capture_request, capture_run
from cases.evidence.services.evidence import evidence_open
from cases.kernel.net.policy import Policy
from tests.capture.capture_site import (
    ORIGINAL_COLOUR,
    ORIGINAL_MARKER,
    OTHER_COLOUR,
    OTHER_MARKER,
    site_url,
)
from tests.factories import make_finding

pytestmark = [pytest.mark.browser, pytest.mark.django_db]


def _read(capture: Capture, kind: str) -> bytes:
    evidence = Evidence.objects.get(capture=capture, kind=kind)
    with evidence_open(evidence) as handle:
        return handle.read()


def _shown(capture: Capture) -> str:
    """Which document the screenshot shows: "original" (red) or "other" (blue), read from
    the page's pixels just under the banner."""
    image = Image.open(io.BytesIO(_read(capture, "screenshot"))).convert("RGB")
    banner = capture.details["browser"]["banner_height"]
    pixel = image.getpixel((image.width - 40, banner + 300))
    distance = {
        name: sum((a - b) ** 2 for a, b in zip(pixel, colour, strict=True))
        for name, colour in (("original", ORIGINAL_COLOUR), ("other", OTHER_COLOUR))
    }
    assert min(distance.values()) < 30**2, f"neither red nor blue: {pixel}"
    return min(distance, key=lambda name: distance[name])


def _markers(document: bytes) -> set[str]:
    text = visible_text(document.decode("utf-8", "replace"))
    return {name for name, marker in (("original", ORIGINAL_MARKER), ("other", OTHER_MARKER))
            if marker in text}  # fmt: skip


def _capture(agency, bob, network, path: str) -> Capture:  # type: ignore[no-untyped-def]
    finding = make_finding(agency, site_url(path), actor=bob)
    capture = capture_run(
        capture_id=capture_request(finding=finding, actor=bob).pk, **network.kwargs
    )
    assert capture is not None
    return capture


def _blocked(capture: Capture) -> list[dict]:
    return [n for n in capture.details["browser"]["navigations"] if n["action"] == "blocked"]


def test_a_page_that_changes_its_location_after_load_is_shot_as_served(
    chromium, agency, bob, network, site
) -> None:  # type: ignore[no-untyped-def]
    capture = _capture(agency, bob, network, "/self-navigating")

    assert capture.status == CaptureStatus.DONE, capture.error
    # The screenshot shows the document whose HTML is stored, not the page it tried to
    # replace itself with.
    assert _shown(capture) == "original"
    assert _markers(_read(capture, "html")) == {"original"}
    assert _markers(_read(capture, "dom")) == {"original"}
    browser = capture.details["browser"]
    assert browser["displayed_url"] == site_url("/self-navigating")
    assert browser["banner_url"] == site_url("/self-navigating")
    # The record says what the page tried, and that it was stopped.
    blocked = _blocked(capture)
    assert [n["url"] for n in blocked] == [site_url("/substitute")]
    assert blocked[0]["reason"] == "scriptInitiated"
    assert "/substitute" not in site.hits  # never even fetched


def test_a_meta_refresh_is_recorded_and_not_followed(chromium, agency, bob, network, site) -> None:  # type: ignore[no-untyped-def]
    capture = _capture(agency, bob, network, "/meta-refresh")

    assert capture.status == CaptureStatus.DONE, capture.error
    assert _shown(capture) == "original"
    assert _markers(_read(capture, "dom")) == {"original"}
    blocked = _blocked(capture)
    assert [n["url"] for n in blocked] == [site_url("/substitute")]
    assert blocked[0]["reason"] == "metaTagRefresh"


def test_windows_a_page_opens_are_recorded_and_closed(chromium, agency, bob, network, site) -> None:  # type: ignore[no-untyped-def]
    capture = _capture(agency, bob, network, "/window-open")

    assert capture.status == CaptureStatus.DONE, capture.error
    assert _shown(capture) == "original"
    assert _markers(_read(capture, "dom")) == {"original"}
    browser = capture.details["browser"]
    assert [w["url"] for w in browser["windows_opened"]] == [site_url("/substitute")]
    assert site_url("/substitute") in [n["url"] for n in _blocked(capture)]
    assert "/substitute" not in site.hits


def test_a_page_that_rewrites_itself_is_stored_as_displayed(
    chromium, agency, bob, network, site
) -> None:  # type: ignore[no-untyped-def]
    capture = _capture(agency, bob, network, "/document-write")

    assert capture.status == CaptureStatus.DONE, capture.error
    # document.write() replaced the content without a navigation: the screenshot shows
    # the new content, the DOM snapshot holds it, and the record says the document was
    # rewritten after it was served (the HTML as served is still stored as served).
    assert _shown(capture) == "other"
    assert _markers(_read(capture, "dom")) == {"other"}
    assert _markers(_read(capture, "html")) == {"original"}
    browser = capture.details["browser"]
    assert browser["document_rewritten"] is True
    assert browser["displayed_url"] == site_url("/document-write")


def test_a_history_push_state_is_shown_in_the_banner_and_the_record(
    chromium, agency, bob, network, site
) -> None:  # type: ignore[no-untyped-def]
    capture = _capture(agency, bob, network, "/push-state")

    assert capture.status == CaptureStatus.DONE, capture.error
    assert _shown(capture) == "other"
    assert _markers(_read(capture, "dom")) == {"other"}
    browser = capture.details["browser"]
    # The address bar changed without a new document: the banner shows the URL actually
    # displayed, and the record lists the change.
    assert browser["displayed_url"] == site_url("/pushed-url")
    assert browser["banner_url"] == site_url("/pushed-url")
    same_document = [n for n in browser["navigations"] if n["action"] == "same_document"]
    assert [n["url"] for n in same_document] == [site_url("/pushed-url")]


def test_a_page_that_keeps_changing_is_frozen_before_it_is_shot(
    chromium, agency, bob, network, site
) -> None:  # type: ignore[no-untyped-def]
    capture = _capture(agency, bob, network, "/flicker")

    assert capture.status == CaptureStatus.DONE, capture.error
    browser = capture.details["browser"]
    assert browser["frozen"] is True
    # The DOM was the same before and after the screenshot: one state of one document.
    assert browser["dom_sha256_before"] == browser["dom_sha256_after"]
    assert _shown(capture) == "original"


def test_a_page_that_leaves_for_a_document_that_cannot_be_blocked_is_refused(
    chromium, agency, bob, network, site
) -> None:  # type: ignore[no-untyped-def]
    capture = _capture(agency, bob, network, "/blank-out")

    # about:blank needs no request, so it cannot be stopped at the network: the browser
    # sees that the document it loaded is gone and takes no screenshot of another one.
    assert capture.status == CaptureStatus.FAILED
    assert "about:blank" in capture.error
    assert not Evidence.objects.filter(capture=capture, kind="screenshot").exists()
    assert not Evidence.objects.filter(capture=capture, kind="dom").exists()
    committed = [n for n in capture.details["browser"]["navigations"] if n["action"] == "left"]
    assert [n["url"] for n in committed] == ["about:blank"]


def test_scripts_in_frames_of_other_sites_are_stopped_too(chromium, network, site) -> None:  # type: ignore[no-untyped-def]
    # The frame (from other.test) asks for /tick every 20 ms for as long as its script runs.
    result = browser_capture(
        site_url("/framed"), policy=Policy(), options=BrowserOptions(settle_ms=1000),
        **network.kwargs,
    )  # fmt: skip

    assert result.ok, result.error or result.integrity_error
    ticks = [r for r in result.requests if "/tick" in r.url]
    assert sum(not r.after_freeze for r in ticks) >= 5  # it was ticking while the page was live
    # After the freeze at most the requests already on their way arrive; a running frame
    # would add one every 20 ms while the screenshot is taken.
    assert sum(r.after_freeze for r in ticks) <= 5, [r.url for r in ticks if r.after_freeze]
