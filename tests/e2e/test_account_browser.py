"""Done-when 4 (passwords) in real Chromium: a user changes their password, and another
resets a forgotten one with a link e-mailed through a real SMTP server on loopback; the
link works once."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.test_browser import PASSWORD, _log_in, browser, page  # noqa: F401 - fixtures
from tests.mailserver import Inbox, smtp_server

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "a-new-Passphrase-for-2026"


@pytest.fixture
def smtp(settings) -> Iterator[Inbox]:  # type: ignore[no-untyped-def]
    with smtp_server(settings) as inbox:
        yield inbox


def _log_in_with(page: Any, username: str, password: str) -> None:  # noqa: F811
    page.goto("/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


def _log_out(page: Any) -> None:  # noqa: F811
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login/")


def test_a_member_changes_their_password_in_the_browser(page, bob) -> None:  # noqa: F811
    _log_in(page, "bob")
    page.goto("/settings/")
    page.get_by_role("link", name="Change password").first.click()
    page.wait_for_url("**/account/password/")
    page.fill("input[name=old_password]", PASSWORD)
    page.fill("input[name=new_password1]", NEW_PASSWORD)
    page.fill("input[name=new_password2]", NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    page.wait_for_url("**/settings/")
    assert "Your password was changed." in page.locator("body").inner_text()

    _log_out(page)
    _log_in_with(page, "bob", PASSWORD)
    assert "/login/" in page.url  # the old password no longer works
    _log_in_with(page, "bob", NEW_PASSWORD)
    page.wait_for_url("**/")
    assert "/login/" not in page.url


def test_a_forgotten_password_is_reset_through_a_link_sent_by_real_smtp(
    page,  # noqa: F811
    settings,
    live_server,
    smtp,
    bob,
) -> None:
    settings.SITE_URL = live_server.url
    page.goto("/login/")
    page.get_by_role("link", name="Forgot your password?").click()
    page.fill("input[name=email]", bob.email)
    page.get_by_role("button", name="Send reset link").click()
    page.wait_for_url("**/account/password/reset/sent/")
    assert "If an account has this address" in page.locator("body").inner_text()

    (message,) = smtp.wait_for(1)
    assert message["To"] == bob.email
    body = message.get_content()
    link = re.search(r"http://\S+/account/password/reset/\S+/\S+/", body)
    assert link, body
    page.goto(link.group(0))
    page.fill("input[name=new_password1]", NEW_PASSWORD)
    page.fill("input[name=new_password2]", NEW_PASSWORD)
    page.get_by_role("button", name="Set password").click()
    page.wait_for_url("**/account/password/reset/done/")
    page.get_by_role("link", name="Log in").click()

    _log_in_with(page, "bob", NEW_PASSWORD)
    page.wait_for_url("**/")
    assert "/login/" not in page.url

    # The link is spent: the new password changed what its token was made from.
    _log_out(page)
    page.goto(link.group(0))
    assert "This link does not work" in page.locator("body").inner_text()
    assert page.locator("input[name=new_password1]").count() == 0
