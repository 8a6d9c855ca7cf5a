"""Two-factor login. Alice (Aurora's admin) must use it; Bob (legal) and Carol (viewer) only
when Aurora requires it for everyone; Mallory (Nebula's admin) cannot switch Aurora's
requirement. Sessions here start with the password only (marker `two_factor`: force_login
is Django's own), the state right after the login form."""

from __future__ import annotations

import io
import re

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token

from cases.kernel.models import AuditEvent
from tests.twofactor_helpers import device_code, enrol

pytestmark = pytest.mark.two_factor

PAGES = [
    "dashboard",
    "finding_list",
    "finding_create",
    "staff_list",
    "user_settings",
    "agency_settings",
]


def _actions(agency) -> list[str]:  # type: ignore[no-untyped-def]
    return list(AuditEvent.objects.filter(agency=agency).values_list("action", flat=True))


def _verify(client, code: str, next_url: str = ""):  # type: ignore[no-untyped-def]
    return client.post(reverse("twofactor_verify"), {"code": code, "next": next_url})


# ------------------------------------------------------------------------ enforcement


def test_admin_without_a_device_can_reach_nothing_but_enrolment(client, alice):
    client.force_login(alice)
    setup = reverse("twofactor_setup")
    for name in PAGES:
        response = client.get(reverse(name))
        assert response.status_code == 302, name
        assert response["Location"].startswith(setup), name
    # Writes too, and the API over the session; the second-step page leads to enrolment.
    assert client.post(reverse("finding_create"), {"url": "https://x.test/a"})["Location"] == setup
    api = client.get("/api/findings/")
    assert api.status_code == 403
    assert "Two-factor" in api.json()["detail"]
    assert client.get(reverse("twofactor_verify"))["Location"].startswith(setup)
    assert client.get(setup).status_code == 200
    # Logging out stays possible.
    assert client.post(reverse("logout")).status_code == 302


def test_a_password_only_session_of_an_enrolled_user_sees_only_the_second_step(client, alice):
    enrol(alice)
    client.force_login(alice)
    response = client.get(reverse("finding_list") + "?status=new")
    assert response.status_code == 302
    assert (
        response["Location"] == reverse("twofactor_verify") + "?next=%2Ffindings%2F%3Fstatus%3Dnew"
    )
    # Not even the enrolment page: a second device would bypass the first.
    assert client.get(reverse("twofactor_setup"))["Location"].startswith(
        reverse("twofactor_verify")
    )
    assert client.post(reverse("twofactor_recovery_codes"))["Location"].startswith(
        reverse("twofactor_verify")
    )


def test_legal_staff_is_not_asked_unless_the_agency_requires_it(client, bob):
    client.force_login(bob)
    assert client.get(reverse("dashboard")).status_code == 200


def test_api_tokens_are_not_affected(client, alice):
    token = Token.objects.create(user=alice)
    client.force_login(alice)  # a password-only session in the same client does not matter
    response = client.get("/api/findings/", HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 200


def test_a_token_header_does_not_open_pages_to_a_password_only_session(client, alice):
    token = Token.objects.create(user=alice)
    client.force_login(alice)
    response = client.get(reverse("finding_list"), HTTP_AUTHORIZATION=f"Token {token.key}")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("twofactor_setup"))


# -------------------------------------------------------------------------- enrolment


def test_enrolment_shows_a_qr_code_and_the_secret_and_needs_a_code(client, alice, agency):
    client.force_login(alice)
    page = client.get(reverse("twofactor_setup")).content.decode()
    assert 'src="data:image/svg+xml' in page
    device = TOTPDevice.objects.get(user=alice, confirmed=False)
    secret = re.search(r"data-secret>([A-Z2-7 ]+)<", page)
    assert secret is not None
    # A reload keeps the same secret (the app already scanned it).
    assert secret.group(1) in client.get(reverse("twofactor_setup")).content.decode()

    wrong = client.post(reverse("twofactor_setup"), {"code": "000000"})
    assert wrong.status_code == 200
    assert "not right" in wrong.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    assert client.get(reverse("dashboard")).status_code == 302

    device.throttle_reset()
    response = client.post(reverse("twofactor_setup"), {"code": device_code(device)})
    assert response.status_code == 200
    codes = re.findall(r"data-recovery-code>([a-z2-7]+)<", response.content.decode())
    assert len(codes) == 10
    assert set(codes) == set(
        StaticToken.objects.filter(device__user=alice).values_list("token", flat=True)
    )
    device.refresh_from_db()
    assert device.confirmed
    assert client.get(reverse("dashboard")).status_code == 200
    assert "two_factor.enabled" in _actions(agency)


# ------------------------------------------------------------------------ second step


def test_login_with_a_code_then_the_same_code_is_refused(client, alice, agency):
    device, _ = enrol(alice)
    code = device_code(device, steps_ahead=1)
    client.force_login(alice)
    response = _verify(client, code, "/findings/")
    assert response.status_code == 302
    assert response["Location"] == "/findings/"
    assert client.get(reverse("dashboard")).status_code == 200
    assert "two_factor.verified" in _actions(agency)

    # Replayed: another password-only session types the same code again.
    client.logout()
    client.force_login(alice)
    replay = _verify(client, code)
    assert replay.status_code == 200
    assert "already used" in replay.content.decode()
    assert client.get(reverse("dashboard")).status_code == 302


def test_a_wrong_code_is_refused_and_slows_the_next_try(client, alice):
    device, _ = enrol(alice)
    client.force_login(alice)
    assert _verify(client, "123456").status_code == 200
    # Right code right after a wrong one: django-otp's throttling makes the caller wait.
    throttled = _verify(client, device_code(device, steps_ahead=1))
    assert "Wait" in throttled.content.decode()
    assert client.get(reverse("dashboard")).status_code == 302


def test_a_recovery_code_works_once(client, alice, agency):
    _, codes = enrol(alice)
    client.force_login(alice)
    response = _verify(client, codes[0].upper())  # as people type it
    assert response.status_code == 302
    assert client.get(reverse("dashboard")).status_code == 200
    assert "two_factor.recovery_code_used" in _actions(agency)
    assert StaticToken.objects.filter(device__user=alice).count() == 9

    client.logout()
    client.force_login(alice)
    again = _verify(client, codes[0])
    assert again.status_code == 200
    assert client.get(reverse("dashboard")).status_code == 302


def test_new_recovery_codes_replace_the_old_ones(client, alice, agency):
    device, old = enrol(alice)
    client.force_login(alice)
    _verify(client, device_code(device, steps_ahead=1))
    response = client.post(reverse("twofactor_recovery_codes"))
    new = re.findall(r"data-recovery-code>([a-z2-7]+)<", response.content.decode())
    assert len(new) == 10
    assert not set(old) & set(StaticToken.objects.values_list("token", flat=True))
    assert "two_factor.recovery_codes_regenerated" in _actions(agency)


def test_disabling_needs_a_right_code_and_an_admin_must_then_enrol_again(client, alice, agency):
    device, codes = enrol(alice)
    client.force_login(alice)
    _verify(client, device_code(device, steps_ahead=1))

    client.post(reverse("twofactor_disable"), {"code": "999999"})
    assert TOTPDevice.objects.filter(user=alice, confirmed=True).exists()

    client.post(reverse("twofactor_disable"), {"code": codes[1]})
    assert not TOTPDevice.objects.filter(user=alice).exists()
    assert not StaticDevice.objects.filter(user=alice).exists()
    assert "two_factor.disabled" in _actions(agency)
    assert client.get(reverse("dashboard"))["Location"].startswith(reverse("twofactor_setup"))


# ----------------------------------------------------------------- agency requirement


def _verified_admin(client, alice):  # type: ignore[no-untyped-def]
    device, _ = enrol(alice)
    client.force_login(alice)
    assert _verify(client, device_code(device, steps_ahead=1)).status_code == 302


def test_the_agency_switch_enforces_two_factor_for_a_viewer(client, alice, carol, agency):
    carol_client = type(client)()
    carol_client.force_login(carol)
    assert carol_client.get(reverse("dashboard")).status_code == 200

    _verified_admin(client, alice)
    client.post(reverse("agency_settings"), {"require_two_factor": "on"})
    agency.refresh_from_db()
    assert agency.require_two_factor
    assert "agency.two_factor_required" in _actions(agency)

    # Carol's existing session is sent to enrolment at her next page view.
    response = carol_client.get(reverse("dashboard"))
    assert response["Location"].startswith(reverse("twofactor_setup"))

    client.post(reverse("agency_settings"), {})
    agency.refresh_from_db()
    assert not agency.require_two_factor
    assert carol_client.get(reverse("dashboard")).status_code == 200


def test_viewers_and_outsiders_cannot_switch_the_requirement(
    client, carol, mallory, agency, other_agency
):
    client.force_login(carol)
    assert client.post(reverse("agency_settings"), {"require_two_factor": "on"}).status_code == 403

    # Mallory (Nebula's admin, verified) only ever changes Nebula.
    device, _ = enrol(mallory)
    client.force_login(mallory)
    _verify(client, device_code(device, steps_ahead=1))
    client.post(reverse("agency_settings"), {"require_two_factor": "on"})
    agency.refresh_from_db()
    other_agency.refresh_from_db()
    assert not agency.require_two_factor
    assert other_agency.require_two_factor
    assert "agency.two_factor_required" not in _actions(agency)


def test_the_operator_removes_a_lost_authenticator(client, alice, agency):
    enrol(alice)
    out = io.StringIO()
    call_command("twofactor_reset", "alice", stdout=out)
    assert "removed" in out.getvalue()
    assert not TOTPDevice.objects.filter(user=alice).exists()
    assert not StaticDevice.objects.filter(user=alice).exists()
    event = AuditEvent.objects.get(agency=agency, action="two_factor.reset")
    assert event.actor is None
    assert event.actor_label == "system"
    # Alice enrols again at her next login.
    client.force_login(alice)
    assert client.get(reverse("dashboard"))["Location"].startswith(reverse("twofactor_setup"))
    with pytest.raises(CommandError):
        call_command("twofactor_reset", "nobody", stdout=out)
