"""A user's own account: password change, reset links by e-mail (self-service and sent by
an agency admin), API tokens, and staff creation that tells nothing of other agencies.
Alice is Aurora's admin, Bob her legal staff, Carol a viewer; Mallory (Nebula's admin)
must never reach them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.core.cache import cache
from django.test import Client, TestCase
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cases.kernel.models import AuditEvent, Membership, Role
from tests.cases.test_views_i18n import korean_catalog  # noqa: F401 - fixture
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a-new-Passphrase-for-2026"
LINK = re.compile(r"https?://\S+/account/password/reset/\S+/\S+/")


@pytest.fixture(autouse=True)
def _fresh_rate_limits():  # type: ignore[no-untyped-def]
    """Rate-limit counters live in the cache: each test starts with none."""
    cache.clear()
    yield
    cache.clear()


def _logged_in(user) -> Client:  # type: ignore[no-untyped-def]
    client = Client()
    assert client.login(username=user.get_username(), password=PASSWORD)
    return client


def _can_log_in(user, password: str) -> bool:  # type: ignore[no-untyped-def]
    return Client().login(username=user.get_username(), password=password)


def _change(client: Client, old: str, new1: str, new2: str | None = None):  # type: ignore[no-untyped-def]
    return client.post(
        reverse("password_change"),
        {"old_password": old, "new_password1": new1, "new_password2": new2 or new1},
    )


# --- Password change -----------------------------------------------------------------------


def test_a_member_changes_their_password_and_stays_signed_in(bob):
    client = _logged_in(bob)
    response = _change(client, PASSWORD, NEW_PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == reverse("user_settings")
    assert client.get(reverse("user_settings")).status_code == 200  # this session is kept
    assert _can_log_in(bob, NEW_PASSWORD)
    assert not _can_log_in(bob, PASSWORD)
    event = AuditEvent.objects.get(action="password.changed")
    assert event.actor == bob
    assert NEW_PASSWORD not in str(event.data) and "pbkdf2" not in str(event.data)


def test_changing_the_password_signs_out_the_other_sessions(bob):
    here, elsewhere = _logged_in(bob), _logged_in(bob)
    assert elsewhere.get(reverse("dashboard")).status_code == 200
    _change(here, PASSWORD, NEW_PASSWORD)
    response = elsewhere.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_a_wrong_old_password_changes_nothing(bob):
    client = _logged_in(bob)
    response = _change(client, "not my password", NEW_PASSWORD)
    assert response.status_code == 200
    assert "Your old password was entered incorrectly" in response.content.decode()
    assert _can_log_in(bob, PASSWORD)
    assert not AuditEvent.objects.filter(action="password.changed").exists()


def test_mismatched_new_passwords_change_nothing(bob):
    client = _logged_in(bob)
    response = _change(client, PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "x")
    assert response.status_code == 200
    assert "The two password fields didn\u2019t match." in response.content.decode()
    assert _can_log_in(bob, PASSWORD)


def test_a_weak_new_password_is_refused(bob):
    response = _change(_logged_in(bob), PASSWORD, "123")
    assert "This password is too short." in response.content.decode()
    assert _can_log_in(bob, PASSWORD)


def test_a_user_without_an_agency_changes_their_password_too(db):
    operator = UserFactory(username="operator")
    client = _logged_in(operator)
    assert client.get(reverse("password_change")).status_code == 200
    response = _change(client, PASSWORD, NEW_PASSWORD)
    assert response["Location"] == reverse("password_change")
    assert _can_log_in(operator, NEW_PASSWORD)


def test_the_settings_page_links_to_the_password_change(client, carol):
    client.force_login(carol)
    content = client.get(reverse("user_settings")).content.decode()
    assert reverse("password_change") in content


def test_an_anonymous_visitor_is_sent_to_log_in(client):
    response = client.get(reverse("password_change"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# --- Reset by e-mail -----------------------------------------------------------------------


def _ask(client: Client, email: str, **extra: str):  # type: ignore[no-untyped-def]
    """Ask for a link; the queued mail is published (and, tasks being eager, sent) when the
    request's transaction commits, as it would outside the test's transaction."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(reverse("password_reset"), {"email": email}, **extra)


def _link(message) -> str:  # type: ignore[no-untyped-def]
    found = LINK.search(message.body)
    assert found, message.body
    return found.group(0)


def _set_password_through(client: Client, link: str, password: str):  # type: ignore[no-untyped-def]
    response = client.get(link)
    assert response.status_code == 302  # the token moves into the session
    return client.post(response["Location"], {"new_password1": password, "new_password2": password})


def test_the_login_page_offers_a_reset(client):
    assert reverse("password_reset") in client.get(reverse("login")).content.decode()


def test_a_reset_link_by_email_sets_a_new_password(client, settings, bob):
    settings.SITE_URL = "https://agencyguard.example"
    response = _ask(client, bob.email.upper())
    assert response.status_code == 302
    assert response["Location"] == reverse("password_reset_done")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [bob.email]
    link = _link(mail.outbox[0])
    assert link.startswith("https://agencyguard.example/account/password/reset/")
    response = _set_password_through(client, link, NEW_PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == reverse("password_reset_complete")
    assert _can_log_in(bob, NEW_PASSWORD)
    sent = AuditEvent.objects.get(action="password.reset_sent")
    assert sent.actor is None and sent.actor_label == "anonymous"
    assert sent.data["by_admin"] is False
    assert link.rsplit("/", 2)[-2] not in str(sent.data)
    assert AuditEvent.objects.get(action="password.reset_completed").actor == bob


def test_the_page_queues_the_mail_and_never_waits_for_the_relay(client, bob, monkeypatch):
    """The mail goes out from a worker through the outbox: the request itself never talks
    to the relay, so an existing and an unknown address take the same path and time."""
    from cases.agency.services.account import RESET_MAIL_TASK
    from cases.kernel import outbox
    from cases.kernel.models import OutboxMessage

    published: list[list[int]] = []
    monkeypatch.setattr(outbox, "outbox_publish", lambda ids: published.append(list(ids)))

    def relay(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the request talked to the mail relay")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", relay)
    assert _ask(client, "nobody@example.com").status_code == 302
    assert not OutboxMessage.objects.filter(task=RESET_MAIL_TASK).exists()
    assert _ask(client, bob.email).status_code == 302
    queued = OutboxMessage.objects.get(task=RESET_MAIL_TASK)
    assert queued.kwargs == {"user_id": bob.pk, "language": "en"}
    assert published and mail.outbox == []


def test_the_link_host_is_the_site_url_never_the_request_host(client, settings, bob):
    settings.SITE_URL = "https://agencyguard.example"
    settings.ALLOWED_HOSTS = ["*"]
    _ask(client, bob.email, HTTP_HOST="attacker.example")
    assert "attacker.example" not in mail.outbox[0].body


def test_a_reset_link_works_once(client, bob):
    _ask(client, bob.email)
    link = _link(mail.outbox[0])
    _set_password_through(client, link, NEW_PASSWORD)
    again = Client().get(link)
    assert again.status_code == 200
    assert "This link does not work" in again.content.decode()
    assert _can_log_in(bob, NEW_PASSWORD)


def test_an_expired_reset_link_is_refused(client, settings, bob):
    _ask(client, bob.email)
    link = _link(mail.outbox[0])
    # A day's margin: time_machine moves the naive local clock by the UTC offset too.
    later = timezone.now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 86400)
    with time_machine.travel(later):
        response = Client().get(link)
    assert "This link does not work" in response.content.decode()


@pytest.mark.parametrize(
    "path",
    [
        "/account/password/reset/Mg/set-password/",  # no token in the session
        "/account/password/reset/Mg/abc-123/",
        "/account/password/reset/OTk5OTk5OTk5OTk5OTk5OTk5OTk5/abc-123/",  # a huge user id
        "/account/password/reset/%F0%9F%92%A5/abc/",
    ],
)
def test_an_invalid_reset_link_is_refused_without_an_error(client, bob, path):
    response = client.get(path)
    assert response.status_code == 200
    assert "This link does not work" in response.content.decode()


def test_an_unknown_address_gets_the_same_answer_and_no_mail(client, bob):
    known = _ask(client, bob.email)
    unknown = _ask(client, "nobody@nowhere.example")
    assert (unknown.status_code, unknown["Location"]) == (known.status_code, known["Location"])
    assert [m.to for m in mail.outbox] == [[bob.email]]
    page = client.get(known["Location"]).content.decode()
    assert "If an account has this address" in page


def test_a_deactivated_account_gets_no_link(client, bob):
    bob.is_active = False
    bob.save()
    assert _ask(client, bob.email).status_code == 302
    assert mail.outbox == []


def test_reset_requests_are_rate_limited_per_address(client, settings, bob):
    settings.PASSWORD_RESET_RATE_PER_EMAIL = "2/h"
    for email in (bob.email, bob.email.upper(), bob.email):
        response = _ask(client, email)
        assert response.status_code == 302
        assert response["Location"] == reverse("password_reset_done")
    assert len(mail.outbox) == 2
    # Another address is not held back by Bob's limit.
    carol = UserFactory(username="other", email="other@example.test")
    _ask(client, carol.email)
    assert len(mail.outbox) == 3


def test_reset_requests_are_rate_limited_per_client(client, settings, bob):
    settings.PASSWORD_RESET_RATE_PER_IP = "2/h"
    for n in range(3):
        _ask(client, f"someone{n}@example.test")
    _ask(client, bob.email)
    assert mail.outbox == []


def test_the_reset_pages_and_mail_speak_korean_to_a_korean_visitor(client, bob):
    page = client.get(reverse("password_reset"), HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "재설정 링크 보내기" in page
    _ask(client, bob.email, HTTP_ACCEPT_LANGUAGE="ko")
    message = mail.outbox[0]
    assert "비밀번호" in message.subject
    assert "비밀번호" in message.body and _link(message)


def test_a_mail_server_failure_answers_the_same_page(client, bob, monkeypatch):
    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError("connection refused")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", refuse)
    response = _ask(client, bob.email)
    assert response["Location"] == reverse("password_reset_done")
    assert not AuditEvent.objects.filter(action="password.reset_sent").exists()


# --- Reset link sent by an admin -----------------------------------------------------------


def _admin_reset(client: Client, user):  # type: ignore[no-untyped-def]
    membership = Membership.objects.get(user=user)
    return client.post(reverse("staff_password_reset", args=[membership.pk]), follow=True)


def test_an_admin_sends_a_reset_link_to_a_member_of_her_agency(client, alice, bob):
    client.force_login(alice)
    response = _admin_reset(client, bob)
    assert response.redirect_chain[-1][0] == reverse("staff_list")
    assert "A password reset link was sent to bob" in response.content.decode()
    assert [m.to for m in mail.outbox] == [[bob.email]]
    assert "alice" in mail.outbox[0].body
    event = AuditEvent.objects.get(action="password.reset_sent")
    assert event.actor == alice and event.data["by_admin"] is True
    _set_password_through(Client(), _link(mail.outbox[0]), NEW_PASSWORD)
    assert _can_log_in(bob, NEW_PASSWORD)


def test_the_staff_list_offers_the_reset_link(client, alice, bob):
    client.force_login(alice)
    membership = Membership.objects.get(user=bob)
    content = client.get(reverse("staff_list")).content.decode()
    assert reverse("staff_password_reset", args=[membership.pk]) in content


def test_an_outsider_cannot_send_a_reset_link_to_another_agencys_member(client, mallory, bob):
    client.force_login(mallory)
    membership = Membership.objects.get(user=bob)
    response = client.post(reverse("staff_password_reset", args=[membership.pk]))
    assert response.status_code == 404
    assert mail.outbox == []
    assert not AuditEvent.objects.filter(action="password.reset_sent").exists()


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_non_admin_cannot_send_reset_links(client, carol, bob, method):
    client.force_login(carol)
    membership = Membership.objects.get(user=bob)
    response = getattr(client, method)(reverse("staff_password_reset", args=[membership.pk]))
    assert response.status_code == (405 if method == "get" else 403)
    assert mail.outbox == []


def test_no_link_for_a_deactivated_member(client, alice, bob):
    bob.is_active = False
    bob.save()
    client.force_login(alice)
    response = _admin_reset(client, bob)
    assert "activate the account before sending a reset link" in response.content.decode()
    assert mail.outbox == []


def test_an_admin_is_told_when_the_mail_server_refuses(client, alice, bob, monkeypatch):
    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError("connection refused")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", refuse)
    client.force_login(alice)
    response = _admin_reset(client, bob)
    assert "The e-mail could not be sent" in response.content.decode()
    assert not AuditEvent.objects.filter(action="password.reset_sent").exists()


# --- Staff creation tells nothing of other agencies ----------------------------------------


def _create_staff(client: Client, username: str):  # type: ignore[no-untyped-def]
    return client.post(
        reverse("staff_create"),
        {
            "username": username,
            "email": f"{username}@aurora.example",
            "role": Role.VIEWER,
            "password": "a-long-Passphrase-42",
        },
    )


def test_staff_creation_tells_nothing_of_other_agencies(client, alice, mallory):
    client.force_login(alice)
    taken_elsewhere = _create_staff(client, "mallory")
    free_everywhere = _create_staff(client, "nobody-has-this")
    assert taken_elsewhere.status_code == free_everywhere.status_code == 302
    assert Membership.objects.get(user__username="aurora.mallory").agency == alice.membership.agency
    mallory.refresh_from_db()
    assert mallory.membership.agency.slug == "nebula"
    assert _can_log_in(mallory, PASSWORD)


def test_a_name_too_long_for_the_agencys_namespace_is_refused(client, alice, agency):
    agency.slug = "a" * 60
    agency.save()
    client.force_login(alice)
    response = _create_staff(client, "n" * 90)
    assert response.status_code == 200
    assert "Use at most 89 characters." in response.content.decode()


def test_the_staff_form_says_how_the_person_logs_in(client, alice):
    client.force_login(alice)
    content = client.get(reverse("staff_create")).content.decode()
    assert "They log in as aurora." in content
    assert reverse("password_change") not in content  # the help text names the page instead
    assert "Change password" in content


# --- API tokens ----------------------------------------------------------------------------


def test_an_api_token_is_shown_once_then_only_by_its_last_characters(client, carol):
    client.force_login(carol)
    response = client.post(reverse("user_settings"), {"action": "token"})
    key = Token.objects.get(user=carol).key
    assert key in response.content.decode()
    later = client.get(reverse("user_settings")).content.decode()
    assert key not in later and key[:-4] not in later
    assert f"…{key[-4:]}" in later


def test_a_revoked_api_token_stops_working(client, carol):
    key = Token.objects.create(user=carol).key
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert api.get(reverse("api:finding-list")).status_code == 200
    client.force_login(carol)
    response = client.post(reverse("user_settings"), {"action": "token_revoke"})
    assert response.status_code == 302
    assert not Token.objects.filter(user=carol).exists()
    assert api.get(reverse("api:finding-list")).status_code == 401
    event = AuditEvent.objects.get(action="api_token.revoked")
    assert event.actor == carol and key not in str(event.data)
    assert "You have no API token." in client.get(reverse("user_settings")).content.decode()


def test_revoking_without_a_token_records_nothing(client, carol):
    client.force_login(carol)
    client.post(reverse("user_settings"), {"action": "token_revoke"})
    assert not AuditEvent.objects.filter(action="api_token.revoked").exists()
