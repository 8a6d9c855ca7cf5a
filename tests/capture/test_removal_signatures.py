"""Removal signatures: every seeded one recognises its platform's removal page on that
platform only; admins list, add, edit and deactivate them, with audit events and clear
errors; viewers and legal staff only read; outsiders see nothing."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cases.agency.models import Platform
from cases.agency.services.tenancy import agency_create
from cases.evidence.capture.observation import removal_signature_match
from cases.evidence.models import RemovalSignature
from cases.evidence.seeds import REMOVAL_SIGNATURES
from cases.evidence.services.removal_signatures import (
    removal_signatures_for_capture,
    removal_signatures_seed,
)
from cases.kernel.models import AuditEvent

pytestmark = pytest.mark.django_db


def _host(platform: Platform) -> str:
    return f"www.{platform.domains[0]}"


@pytest.mark.parametrize(
    ("platform_name", "name", "example"),
    [(platform, name, example) for platform, name, _kind, _pattern, example in REMOVAL_SIGNATURES],
)
def test_every_seeded_signature_recognises_its_platform_removal_page_there_only(
    agency, platform_name, name, example
) -> None:  # type: ignore[no-untyped-def]
    signatures = removal_signatures_for_capture(agency=agency)
    platform = Platform.objects.get(agency=agency, name=platform_name)
    page = f"Menu Home Search {example} Terms Privacy"

    found, timed_out = removal_signature_match(signatures, host=_host(platform), text=page)
    assert found is not None and found.name == f"{platform_name}: {name}" and timed_out == []
    # The same page on a site that is not this platform proves nothing.
    elsewhere = "example-news.com" if platform_name != "Reddit" else "www.youtube.com"
    assert removal_signature_match(signatures, host=elsewhere, text=page)[0] is None
    # Nor does the page of this platform without the words.
    assert removal_signature_match(signatures, host=_host(platform), text="A video")[0] is None


def test_a_new_agency_gets_every_seeded_signature_once(db) -> None:  # type: ignore[no-untyped-def]
    agency = agency_create(name="Comet", slug="comet")
    assert RemovalSignature.objects.filter(agency=agency).count() == len(REMOVAL_SIGNATURES)
    assert removal_signatures_seed(agency=agency) == 0


def test_a_catastrophic_regex_on_a_hostile_page_times_out_instead_of_hanging(agency, alice) -> None:  # type: ignore[no-untyped-def]
    from cases.evidence.services.removal_signatures import removal_signature_create

    platform = Platform.objects.get(agency=agency, name="Reddit")
    removal_signature_create(
        agency=agency, actor=alice, platform=platform, name="bad", kind="regex", pattern=r"(a+)+$"
    )
    signatures = removal_signatures_for_capture(agency=agency)
    found, timed_out = removal_signature_match(
        signatures, host="www.reddit.com", text="a" * 5000 + "!"
    )
    assert found is None and timed_out == ["Reddit: bad"]


# --- the admin pages ------------------------------------------------------------------


def test_everyone_reads_the_table_and_only_admins_see_edit_links(client, carol, agency) -> None:  # type: ignore[no-untyped-def]
    client.force_login(carol)
    content = client.get(reverse("removal_signature_list")).content.decode()
    assert "YouTube" in content and "video no longer available" in content
    assert reverse("removal_signature_create") not in content
    assert client.get(reverse("removal_signature_create")).status_code == 403
    assert client.post(reverse("removal_signature_create"), {}).status_code == 403


def test_legal_staff_cannot_change_signatures(client, bob, agency) -> None:  # type: ignore[no-untyped-def]
    signature = RemovalSignature.objects.filter(agency=agency).first()
    client.force_login(bob)
    url = reverse("removal_signature_update", args=[signature.pk])
    assert client.post(url, {"is_active": ""}).status_code == 403
    signature.refresh_from_db()
    assert signature.is_active


def test_an_admin_adds_edits_and_deactivates_a_signature(client, alice, agency) -> None:  # type: ignore[no-untyped-def]
    platform = Platform.objects.get(agency=agency, name="TikTok")
    client.force_login(alice)
    response = client.post(
        reverse("removal_signature_create"),
        {
            "platform": platform.pk,
            "name": "Korean removal notice",
            "kind": "regex",
            "pattern": r"삭제된 (동영상|게시물)",
            "is_active": "on",
        },
    )
    assert response.status_code == 302
    signature = RemovalSignature.objects.get(agency=agency, name="Korean removal notice")
    created = AuditEvent.objects.get(action="removal_signature.created")
    assert created.data["platform"] == "TikTok" and created.data["pattern"] == signature.pattern
    used = removal_signatures_for_capture(agency=agency)
    assert removal_signature_match(used, host="www.tiktok.com", text="삭제된 동영상입니다")[0]

    url = reverse("removal_signature_update", args=[signature.pk])
    assert "Korean removal notice" in client.get(url).content.decode()
    response = client.post(
        url,
        {
            "platform": platform.pk,
            "name": "Korean removal notice",
            "kind": "phrase",
            "pattern": "삭제된 동영상",
            "is_active": "",
        },
    )
    assert response.status_code == 302
    signature.refresh_from_db()
    assert (signature.kind, signature.pattern, signature.is_active) == (
        "phrase",
        "삭제된 동영상",
        False,
    )
    updated = AuditEvent.objects.get(action="removal_signature.updated")
    assert updated.data["is_active"] == {"from": True, "to": False}
    assert updated.data["kind"] == {"from": "regex", "to": "phrase"}
    used = removal_signatures_for_capture(agency=agency)
    assert (
        removal_signature_match(used, host="www.tiktok.com", text="삭제된 동영상입니다")[0] is None
    )
    listing = client.get(reverse("removal_signature_list")).content.decode()
    assert f'data-signature-id="{signature.pk}" class="muted"' in listing


def test_a_bad_regex_gets_a_clear_form_error(client, alice, agency) -> None:  # type: ignore[no-untyped-def]
    platform = Platform.objects.get(agency=agency, name="YouTube")
    client.force_login(alice)
    response = client.post(
        reverse("removal_signature_create"),
        {"platform": platform.pk, "name": "broken", "kind": "regex", "pattern": "(unclosed"},
    )
    assert response.status_code == 200
    assert "Not a valid regular expression" in response.content.decode()
    assert not RemovalSignature.objects.filter(name="broken").exists()
    # A duplicate name on the same platform is refused with a message too.
    response = client.post(
        reverse("removal_signature_create"),
        {"platform": platform.pk, "name": "Video Removed", "kind": "phrase", "pattern": "x"},
    )
    assert "already has a signature of this name" in response.content.decode()


def test_an_admin_cannot_attach_a_signature_to_another_agencys_platform(
    client, alice, agency, other_agency
) -> None:  # type: ignore[no-untyped-def]
    foreign = Platform.objects.get(agency=other_agency, name="YouTube")
    client.force_login(alice)
    response = client.post(
        reverse("removal_signature_create"),
        {"platform": foreign.pk, "name": "sneaky", "kind": "phrase", "pattern": "x"},
    )
    assert response.status_code == 200 and "platform" in response.context["form"].errors
    assert not RemovalSignature.objects.filter(name="sneaky").exists()


def test_outsider_gets_404_for_a_signature_and_sees_none_in_the_list(
    client, mallory, agency
) -> None:  # type: ignore[no-untyped-def]
    signature = RemovalSignature.objects.filter(agency=agency).first()
    RemovalSignature.objects.filter(pk=signature.pk).update(name="aurora-secret-signature")
    client.force_login(mallory)
    url = reverse("removal_signature_update", args=[signature.pk])
    assert client.get(url).status_code == 404
    assert client.post(url, {"name": "taken over"}).status_code == 404
    assert (
        "aurora-secret-signature"
        not in client.get(reverse("removal_signature_list")).content.decode()
    )
