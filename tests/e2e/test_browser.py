"""The real UI in real headless Chromium (Debian's, installed by `make test`)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import require_service

CHROMIUM = os.getenv("CHROMIUM_PATH", "/usr/bin/chromium")
PASSWORD = "correct horse battery staple"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser() -> Iterator[Any]:
    require_service(
        shutil.which(CHROMIUM) is not None, f"headless Chromium not found at {CHROMIUM}"
    )
    # Playwright's sync API runs an event loop in this thread; Django refuses ORM calls from
    # a thread with a running loop unless told this test process knows what it does.
    # Only for the browser's tests: a process started later (manage.py check --deploy in
    # tests/cases/test_deploy_checks.py) must not inherit it.
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=[
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                ],
            )
            yield browser
            browser.close()
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture
def page(browser, live_server) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def _log_in(page: Any, username: str, *, device: Any = None) -> None:
    """Log in through the form; with `device` (an admin's authenticator, enrolled with
    tests.twofactor_helpers.enrol) also through the second step."""
    page.goto("/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.get_by_role("button", name="Log in").click()
    if device is not None:
        from tests.twofactor_helpers import device_code

        page.wait_for_url("**/account/two-factor/verify/**")
        # The next step's code: enrolment spent this step's (django-otp refuses a replay).
        page.fill("input[name=code]", device_code(device, steps_ahead=1))
        page.locator("main form button[type=submit]").first.click()
        page.wait_for_url(lambda url: "/two-factor/" not in url)
    page.wait_for_url("**/")


def test_legal_staff_records_triages_and_switches_to_korean(page, bob, artist, tmp_path) -> None:  # type: ignore[no-untyped-def]
    _log_in(page, "bob")

    page.goto("/findings/new/")
    page.fill("input[name=url]", "https://www.YouTube.com/watch?v=e2e-deepfake&utm_source=share")
    page.get_by_role("button", name="Record finding").click()
    page.wait_for_load_state()

    page.goto("/findings/")
    row = page.locator("[data-finding-id]").filter(
        has_text="https://www.youtube.com/watch?v=e2e-deepfake"
    )
    assert row.count() == 1
    finding_id = row.first.get_attribute("data-finding-id")

    page.goto(f"/findings/{finding_id}/")
    page.select_option("select[name=status]", "triaged")
    page.get_by_role("button", name="Change status").click()
    page.wait_for_load_state()
    from cases.intake.models import Finding

    assert Finding.objects.get(pk=finding_id).status == "triaged"
    assert page.locator("body").inner_text().count("Triaged") >= 1

    page.select_option("select[name=language]", "ko")
    switch = page.locator("form[action$='/i18n/setlang/'] button")
    if switch.count() and switch.first.is_visible():
        switch.first.click()
    page.wait_for_load_state()
    page.goto("/")
    assert "대시보드" in page.locator("body").inner_text()
    page.screenshot(path=str(tmp_path / "dashboard-ko.png"), full_page=True)
