"""Two-factor login in real headless Chromium: Alice (admin) enrols an authenticator from
the QR page's secret, logs in with password and code, then with a recovery code, which is
refused the next time."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.test_browser import PASSWORD, browser, page  # noqa: F401 - fixtures
from tests.twofactor_helpers import secret_key, totp_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _password(tab: Any, username: str) -> None:
    tab.goto("/login/")
    tab.fill("input[name=username]", username)
    tab.fill("input[name=password]", PASSWORD)
    tab.get_by_role("button", name="Log in").click()
    tab.wait_for_load_state()


def _second_step(tab: Any, code: str) -> None:
    tab.wait_for_url("**/account/two-factor/verify/**")
    tab.fill("input[name=code]", code)
    tab.get_by_role("button", name="Verify").click()
    tab.wait_for_load_state()


def _log_out(tab: Any) -> None:
    tab.get_by_role("button", name="Log out").first.click()
    tab.wait_for_url("**/login/")


def test_admin_enrols_and_logs_in_with_a_code_and_a_recovery_code(
    page,  # noqa: F811 - the fixture imported above
    alice,
) -> None:
    # After the password an admin without an authenticator sees only the enrolment page.
    _password(page, "alice")
    page.wait_for_url("**/account/two-factor/**")
    page.goto("/findings/")
    page.wait_for_url("**/account/two-factor/**")
    qr = page.locator("img[src^='data:image/svg+xml']")
    assert qr.count() == 1
    assert qr.evaluate("img => img.complete && img.naturalWidth > 0")  # the CSP let it load
    key = secret_key(page.locator("[data-secret]").inner_text())

    page.fill("input[name=code]", totp_code(key))
    page.get_by_role("button", name="Confirm and turn on").click()
    page.wait_for_load_state()
    codes = page.locator("[data-recovery-code]").all_inner_texts()
    assert len(codes) == 10
    page.get_by_role("link", name="I saved them, continue").click()
    page.wait_for_url("**/")
    assert "Dashboard" in page.locator("h1").first.inner_text()
    _log_out(page)

    # Password, then the next code from the app (the enrolment code is used up).
    _password(page, "alice")
    _second_step(page, totp_code(key, steps_ahead=1))
    page.wait_for_url(re.compile(r".*/$"))
    page.goto("/findings/")
    assert "/findings/" in page.url
    _log_out(page)

    # Password, then a recovery code.
    _password(page, "alice")
    _second_step(page, codes[0])
    page.wait_for_url(re.compile(r".*/$"))
    assert "recovery code" in page.locator(".messages").inner_text()
    _log_out(page)

    # The same recovery code again: refused, and the session stays at the second step.
    _password(page, "alice")
    _second_step(page, codes[0])
    assert "/account/two-factor/verify/" in page.url
    assert "already used" in page.locator("body").inner_text()
    page.goto("/")
    assert "/account/two-factor/verify/" in page.url
