"""The agency's own administration in the web UI: roster, staff, platforms, audit trail,
and each member's settings."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.urls import reverse
from rest_framework.authtoken.models import Token

from cases.agency.models import Artist, Group, Platform
from cases.intake.services.findings import finding_record
from cases.kernel.models import AuditEvent, Membership, Role
from tests.audit_helpers import EVENTS, as_db_owner, sql
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _messages(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- Roster --------------------------------------------------------------------------------


def test_admin_adds_an_artist_with_aliases_and_groups(client, alice, group):
    client.force_login(alice)
    response = client.post(
        reverse("artist_create"),
        {
            "stage_name": "Mina",
            "name_hangul": "미나",
            "name_latin": "Mina",
            "legal_name": "Park Mina",
            "aliases": "Minnie, 민이、 Mina-ya, Minnie",
            "groups": [group.pk],
            "active": "on",
        },
    )
    artist = Artist.objects.get(stage_name="Mina")
    assert response.status_code == 302
    assert response["Location"] == reverse("artist_detail", args=[artist.pk])
    assert artist.aliases == ["Minnie", "민이", "Mina-ya"]
    assert artist.legal_name == "Park Mina"
    assert list(artist.groups.all()) == [group]
    event = AuditEvent.objects.get(action="artist.created")
    assert "Park Mina" not in str(event.data)


def test_a_stage_name_is_unique_in_the_agency(client, alice, artist):
    client.force_login(alice)
    response = client.post(reverse("artist_create"), {"stage_name": "yuna", "active": "on"})
    assert "An artist with this stage name already exists." in response.content.decode()
    assert Artist.objects.filter(agency=artist.agency).count() == 1


def test_the_same_stage_name_is_fine_in_another_agency(client, mallory, artist):
    client.force_login(mallory)
    response = client.post(reverse("artist_create"), {"stage_name": "Yuna", "active": "on"})
    assert response.status_code == 302
    assert Artist.objects.filter(stage_name="Yuna").count() == 2


def test_admin_edits_an_artist(client, alice, artist):
    client.force_login(alice)
    form = client.get(reverse("artist_update", args=[artist.pk])).content.decode()
    assert "Kim Yuna-secret" in form  # admins edit the legal name
    response = client.post(
        reverse("artist_update", args=[artist.pk]),
        {
            "stage_name": "Yuna",
            "name_hangul": "유나",
            "legal_name": "Kim Yuna",
            "aliases": "YN",
            "active": "",
        },
    )
    assert response.status_code == 302
    artist.refresh_from_db()
    assert artist.legal_name == "Kim Yuna"
    assert artist.aliases == ["YN"]
    assert artist.active is False
    assert list(artist.groups.all()) == []


def test_legal_staff_read_the_roster_but_do_not_edit_it(client, bob, artist):
    client.force_login(bob)
    assert client.get(reverse("artist_list")).status_code == 200
    assert (
        client.post(reverse("artist_update", args=[artist.pk]), {"stage_name": "X"}).status_code
        == 403
    )
    assert client.post(reverse("artist_create"), {"stage_name": "X"}).status_code == 403
    artist.refresh_from_db()
    assert artist.stage_name == "Yuna"


def test_the_artist_list_searches(client, carol, artist):
    client.force_login(carol)
    assert "Yuna" in client.get(reverse("artist_list"), {"q": "유나"}).content.decode()
    content = client.get(reverse("artist_list"), {"q": "zzz"}).content.decode()
    assert "No artist matches this search." in content


def test_admin_adds_and_renames_a_group(client, alice, group):
    client.force_login(alice)
    response = client.post(
        reverse("group_create"), {"name": "Moonrise", "name_hangul": "문라이즈", "active": "on"}
    )
    assert response.status_code == 302
    assert Group.objects.filter(name="Moonrise").exists()
    response = client.post(reverse("group_create"), {"name": "starlight", "active": "on"})
    assert "A group with this name already exists." in response.content.decode()
    client.post(reverse("group_update", args=[group.pk]), {"name": "Starlight II", "active": "on"})
    group.refresh_from_db()
    assert group.name == "Starlight II"


def test_groups_list_their_artist_count(client, carol, artist, group):
    client.force_login(carol)
    content = client.get(reverse("group_list")).content.decode()
    assert "Starlight" in content
    assert "스타라이트" in content


# --- Staff ---------------------------------------------------------------------------------


def test_admin_creates_a_staff_account_that_can_log_in(client, alice, agency):
    client.force_login(alice)
    response = client.post(
        reverse("staff_create"),
        {
            "username": "dave",
            "email": "dave@example.test",
            "role": Role.LEGAL,
            "password": "a-long-Passphrase-42",
        },
    )
    assert response.status_code == 302
    # In the agency's own namespace: see test_staff_creation_tells_nothing_of_other_agencies.
    membership = Membership.objects.get(user__username="aurora.dave")
    assert membership.agency == agency
    assert membership.role == Role.LEGAL
    client.logout()
    assert client.login(username="aurora.dave", password="a-long-Passphrase-42")


def test_staff_creation_refuses_taken_usernames_and_weak_passwords(client, alice):
    client.force_login(alice)
    body = {"email": "d@example.test", "role": Role.VIEWER, "password": "a-long-Passphrase-42"}
    assert client.post(reverse("staff_create"), {"username": "dave", **body}).status_code == 302
    response = client.post(reverse("staff_create"), {"username": "Dave", **body})
    assert "This username is taken." in response.content.decode()
    response = client.post(
        reverse("staff_create"),
        {"username": "erin", "email": "erin@example.test", "role": Role.VIEWER, "password": "123"},
    )
    assert "This password is too short." in response.content.decode()
    assert not User.objects.filter(username="erin").exists()


def test_admin_changes_a_role_and_deactivates_an_account(client, alice, bob):
    membership = Membership.objects.get(user=bob)
    client.force_login(alice)
    response = client.post(
        reverse("staff_update", args=[membership.pk]), {"role": Role.VIEWER, "active": ""}
    )
    assert response.status_code == 302
    membership.refresh_from_db()
    bob.refresh_from_db()
    assert membership.role == Role.VIEWER
    assert bob.is_active is False


def test_the_last_admin_cannot_demote_or_deactivate_themselves(client, alice):
    membership = Membership.objects.get(user=alice)
    client.force_login(alice)
    for data in ({"role": Role.LEGAL, "active": "on"}, {"role": Role.ADMIN, "active": ""}):
        response = client.post(reverse("staff_update", args=[membership.pk]), data)
        assert response.status_code == 200
        assert "last active admin" in response.content.decode()
    membership.refresh_from_db()
    alice.refresh_from_db()
    assert membership.role == Role.ADMIN
    assert alice.is_active


def test_an_admin_may_step_down_when_another_admin_remains(client, alice, agency):
    MembershipFactory(agency=agency, role=Role.ADMIN, user=UserFactory(username="frank"))
    membership = Membership.objects.get(user=alice)
    client.force_login(alice)
    response = client.post(
        reverse("staff_update", args=[membership.pk]), {"role": Role.LEGAL, "active": "on"}
    )
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.role == Role.LEGAL


def test_staff_list_shows_only_the_agency(client, alice, bob, mallory):
    client.force_login(alice)
    content = client.get(reverse("staff_list")).content.decode()
    assert "bob" in content
    assert "mallory" not in content


# --- Platforms -----------------------------------------------------------------------------


def test_everyone_sees_platforms_and_admins_edit_them(client, carol, alice, agency):
    platform = Platform.objects.filter(agency=agency).order_by("name").first()
    client.force_login(carol)
    content = client.get(reverse("platform_list")).content.decode()
    assert platform.name in content
    assert reverse("platform_update", args=[platform.pk]) not in content
    client.force_login(alice)
    response = client.post(
        reverse("platform_update", args=[platform.pk]),
        {
            "name": platform.name,
            "domains": "Example-Video.COM\n.clips.example.net\n\nexample-video.com",
            "abuse_email": "abuse@example-video.com",
            "web_form_url": "https://example-video.com/report",
            "channel": "email",
        },
    )
    assert response.status_code == 302
    platform.refresh_from_db()
    assert platform.domains == ["example-video.com", "clips.example.net"]
    assert platform.channel == "email"
    event = AuditEvent.objects.get(action="platform.updated")
    assert event.data["channel"]["to"] == "email"
    # New findings on that host now get the platform.
    finding, _created = finding_record(
        agency=agency, url="https://www.example-video.com/v/1", actor=alice
    )
    assert finding.platform == platform


def test_platform_domains_must_be_host_names(client, alice, agency):
    platform = Platform.objects.filter(agency=agency).first()
    client.force_login(alice)
    response = client.post(
        reverse("platform_update", args=[platform.pk]),
        {"name": platform.name, "domains": "https://example.com/path", "channel": "email"},
    )
    assert "Not a host name" in response.content.decode()


def test_platform_names_stay_unique(client, alice, agency):
    first, second = Platform.objects.filter(agency=agency).order_by("name")[:2]
    client.force_login(alice)
    response = client.post(
        reverse("platform_update", args=[second.pk]),
        {"name": first.name.upper(), "domains": "example.org", "channel": "email"},
    )
    assert "Another platform already has this name." in response.content.decode()


# --- Audit trail ---------------------------------------------------------------------------


def test_admin_sees_the_audit_trail_and_verifies_the_chain(client, alice, finding):
    client.force_login(alice)
    content = client.get(reverse("audit_list")).content.decode()
    assert "Finding recorded" in content
    assert "Verify chain" in content
    response = client.post(reverse("audit_list"))
    assert "Chain intact." in response.content.decode()


def test_a_tampered_chain_is_reported(client, alice, agency, finding):
    # Edit an event behind the application's back, as an attacker with database access would.
    with as_db_owner():
        sql(
            f"UPDATE {EVENTS} SET action = 'finding.forged' "
            "WHERE agency_id = %s AND action = 'finding.recorded'",
            [agency.pk],
        )
    client.force_login(alice)
    content = client.post(reverse("audit_list")).content.decode()
    assert "Chain broken!" in content
    assert "edited" in content


def test_the_audit_trail_of_another_agency_is_not_shown(client, mallory, finding):
    client.force_login(mallory)
    content = client.get(reverse("audit_list")).content.decode()
    assert "aurora-secret-1" not in content


# --- User settings -------------------------------------------------------------------------


def test_a_member_turns_media_blurring_off_and_on(client, carol):
    membership = Membership.objects.get(user=carol)
    assert membership.always_blur
    client.force_login(carol)
    response = client.post(reverse("user_settings"), {"action": "preferences"})
    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.always_blur is False
    client.post(reverse("user_settings"), {"action": "preferences", "always_blur": "on"})
    membership.refresh_from_db()
    assert membership.always_blur is True
    assert AuditEvent.objects.filter(action="membership.preferences_changed").count() == 2


def test_an_api_token_is_shown_once_and_replaced_on_rotation(client, carol):
    client.force_login(carol)
    response = client.post(reverse("user_settings"), {"action": "token"})
    token = Token.objects.get(user=carol)
    assert token.key in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert token.key not in client.get(reverse("user_settings")).content.decode()
    client.post(reverse("user_settings"), {"action": "token"})
    assert Token.objects.get(user=carol).key != token.key
    assert AuditEvent.objects.filter(action="api_token.rotated").exists()
    assert not AuditEvent.objects.filter(data__icontains=token.key).exists()
