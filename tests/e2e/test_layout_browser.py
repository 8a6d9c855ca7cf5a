"""Layout as rendered by Chromium: the dark sidebar runs the full height of a long page, the
web-form checklist steps are padded cards, and the notice preview breaks between words."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.urls import reverse
from PIL import Image

from cases.notices.services.drafts import notice_create
from tests.e2e.test_browser import _log_in, browser, page  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIDEBAR = (0x17, 0x20, 0x2C)  # --sidebar in static/css/app.css


@pytest.fixture
def web_form_notice(agency, bob, finding):  # type: ignore[no-untyped-def]
    return notice_create(
        agency=agency,
        actor=bob,
        findings=[finding],
        legal_basis="platform_policy",
        channel="web_form",
        explanation="Unauthorised synthetic likeness " * 20,
    )


def _style(page: Any, selector: str, prop: str) -> str:  # noqa: F811
    return page.eval_on_selector(selector, f"e => getComputedStyle(e).{prop}")


def test_the_sidebar_runs_the_full_height_of_a_long_page(page, bob, web_form_notice) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    _log_in(page, "bob")
    page.set_viewport_size({"width": 1280, "height": 300})
    page.goto(reverse("notice_checklist", args=[web_form_notice.pk]))
    height = page.evaluate("document.documentElement.scrollHeight")
    assert height > 3 * 300  # a long page
    shot = Image.open(io.BytesIO(page.screenshot(full_page=True))).convert("RGB")
    for y in (10, shot.height // 2, shot.height - 5):
        assert shot.getpixel((5, y)) == SIDEBAR, y
    # ...and the navigation stays in view when scrolled to the bottom.
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    assert page.locator(".sidebar .brand").is_visible()
    box = page.locator(".sidebar .brand").bounding_box()
    assert box is not None and 0 <= box["y"] < 300


def test_checklist_steps_are_padded_cards(page, bob, web_form_notice) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    _log_in(page, "bob")
    page.goto(reverse("notice_checklist", args=[web_form_notice.pk]))
    step = "[data-checklist] > li.card"
    assert page.locator(step).count() == 4
    for side in ("paddingTop", "paddingLeft", "paddingRight", "paddingBottom"):
        assert float(_style(page, step, side).removesuffix("px")) >= 12, side


def test_the_notice_preview_breaks_between_words(page, bob, web_form_notice) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    _log_in(page, "bob")
    page.goto(reverse("notice_detail", args=[web_form_notice.pk]))
    body = "[data-notice-body]"
    assert page.locator(body).count() == 1
    assert _style(page, body, "wordBreak") != "break-all"
    assert _style(page, body, "overflowWrap") == "break-word"
    assert _style(page, body, "hyphens") == "auto"
