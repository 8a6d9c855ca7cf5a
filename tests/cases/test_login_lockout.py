"""The login lockout behind the reverse proxy. The proxy (10.0.0.2) appends the address it
saw to X-Forwarded-For; client A (203.0.113.5) guesses Bob's password, client B
(198.51.100.7) is Bob himself, at another address."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from django.urls import reverse

from cases.kernel.models import AuditEvent
from cases.kernel.net.clientip import client_ip

PROXY = "10.0.0.2"
CLIENT_A = "203.0.113.5"
CLIENT_B = "198.51.100.7"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def lockout(settings):  # type: ignore[no-untyped-def]
    settings.AXES_ENABLED = True
    settings.AXES_FAILURE_LIMIT = 5
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 20
    settings.TRUSTED_PROXY_COUNT = 1
    return settings


def _login(client, username: str, password: str, forwarded_for: str, remote: str = PROXY):  # type: ignore[no-untyped-def]
    return client.post(
        reverse("login"),
        {"username": username, "password": password},
        REMOTE_ADDR=remote,
        HTTP_X_FORWARDED_FOR=forwarded_for,
    )


def test_one_clients_failures_do_not_lock_the_user_out_elsewhere(client, bob, lockout):
    statuses = [_login(client, "bob", "wrong", CLIENT_A).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 200, 429]  # the fifth failure locks
    # A is locked for Bob, even with the right password...
    assert _login(client, "bob", PASSWORD, CLIENT_A).status_code == 429
    # ...while Bob at B (through the same proxy) logs in.
    response = _login(client, "bob", PASSWORD, CLIENT_B)
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    login = AuditEvent.objects.filter(action="user.login").latest("seq")
    assert login.data["ip"] == CLIENT_B


def test_spraying_user_names_from_one_address_is_limited(client, bob, lockout):
    statuses = [_login(client, f"user-{n}", "Summer2026!", CLIENT_A).status_code for n in range(20)]
    assert statuses == [200] * 19 + [429]  # the twentieth failure from A locks A
    # Bob's own right password from A is refused now: the address is locked...
    assert _login(client, "bob", PASSWORD, CLIENT_A).status_code == 429
    # ...and only that address.
    assert _login(client, "bob", PASSWORD, CLIENT_B).status_code == 302


def test_below_the_address_limit_other_users_still_log_in(client, bob, lockout):
    for n in range(19):
        _login(client, f"user-{n}", "Summer2026!", CLIENT_A)
    assert _login(client, "bob", PASSWORD, CLIENT_A).status_code == 302


def test_a_spoofed_forwarded_for_is_ignored_without_a_trusted_proxy(client, bob, lockout):
    lockout.TRUSTED_PROXY_COUNT = 0
    for n in range(5):
        # A direct client makes up a new "address" each time: still one client.
        _login(client, "bob", "wrong", f"192.0.2.{n}", remote=CLIENT_A)
    assert _login(client, "bob", PASSWORD, "192.0.2.99", remote=CLIENT_A).status_code == 429
    assert _login(client, "bob", PASSWORD, "", remote=CLIENT_B).status_code == 302


def test_a_spoofed_left_entry_is_ignored_behind_one_proxy(client, bob, lockout):
    for n in range(5):
        _login(client, "bob", "wrong", f"192.0.2.{n}, {CLIENT_A}")
    assert _login(client, "bob", PASSWORD, f"192.0.2.77, {CLIENT_A}").status_code == 429


@pytest.mark.parametrize(
    ("proxies", "forwarded", "remote", "expected"),
    [
        (0, "192.0.2.1", "203.0.113.5", "203.0.113.5"),
        (1, "192.0.2.1, 203.0.113.5", "10.0.0.2", "203.0.113.5"),
        (2, "192.0.2.1, 203.0.113.5, 10.0.0.1", "10.0.0.2", "203.0.113.5"),
        (1, "", "10.0.0.2", "10.0.0.2"),  # reached the app directly
        (2, "203.0.113.5", "10.0.0.2", "203.0.113.5"),  # skipped the outer proxy
        (1, "not-an-address", "10.0.0.2", "10.0.0.2"),
        (1, "2001:db8::1", "10.0.0.2", "2001:db8::1"),
        (0, "", "junk", None),
    ],
)
def test_client_ip_counts_trusted_proxies_from_the_right(
    settings, proxies, forwarded, remote, expected
):  # type: ignore[no-untyped-def]
    settings.TRUSTED_PROXY_COUNT = proxies
    request = RequestFactory().get("/", REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected
