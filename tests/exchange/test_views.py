"""The exchange's pages: consent on the artist page, keys issued once, subscriptions, all
for agency admins only."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cases.agency.models import ArtistShareConsent
from cases.kernel.models import AuditEvent
from cases.matching.models import ExchangePartner, ExchangeSubscription
from cases.matching.services.exchange import partner_authenticate

pytestmark = pytest.mark.django_db


def test_an_admin_records_and_withdraws_consent_on_the_artist_page(client, alice, artist):
    client.force_login(alice)
    url = reverse("artist_share_consent", args=[artist.pk])
    client.post(url, {"action": "record", "note": "signed form"})
    consent = ArtistShareConsent.objects.get(artist=artist)
    assert consent.recorded_by == alice and consent.note == "signed form"
    page = client.get(reverse("artist_detail", args=[artist.pk])).content.decode()
    assert "data-share-consent" in page and "signed form" in page
    client.post(url, {"action": "withdraw"})
    consent.refresh_from_db()
    assert consent.withdrawn_by == alice and consent.withdrawn_at is not None
    # A second withdrawal is a message, not an error page.
    assert client.post(url, {"action": "withdraw"}).status_code == 302


def test_legal_staff_and_viewers_cannot_change_consent(client, bob, carol, artist):
    for user in (bob, carol):
        client.force_login(user)
        url = reverse("artist_share_consent", args=[artist.pk])
        assert client.post(url, {"action": "record"}).status_code == 403
    assert not ArtistShareConsent.objects.exists()


def test_partner_keys_are_shown_once_and_work(client, alice, agency):
    client.force_login(alice)
    page = client.post(reverse("exchange_partner_create"), {"name": "Nebula"}).content.decode()
    assert "data-new-partner-keys" in page
    partner = ExchangePartner.objects.get(agency=agency)
    api_key = page.split("agx_" + partner.key_prefix + "_", 1)[1].split("<", 1)[0]
    assert partner_authenticate(api_key=f"agx_{partner.key_prefix}_{api_key}") == partner
    again = client.get(reverse("exchange_settings")).content.decode()
    assert api_key not in again and "data-new-partner-keys" not in again
    client.post(reverse("exchange_partner_revoke", args=[partner.pk]))
    partner.refresh_from_db()
    assert partner.active is False
    assert AuditEvent.objects.filter(agency=agency, action="exchange.partner_revoked").exists()


def test_a_subscription_is_saved_checked_and_removed(client, settings, alice, agency):
    settings.EXCHANGE_ALLOWED_PORTS = [443]
    client.force_login(alice)
    url = reverse("exchange_subscription_create")
    data = {
        "name": "Nebula",
        "feed_url": "http://127.0.0.1/api/exchange/bank/",
        "api_key": "agx_a_b",
        "signing_key": "s",
        "trust": "high",
    }
    response = client.post(url, data)
    assert response.status_code == 200 and not ExchangeSubscription.objects.exists()
    data["feed_url"] = "https://bank.nebula.example/api/exchange/bank/"
    assert client.post(url, data).status_code == 302
    subscription = ExchangeSubscription.objects.get(agency=agency)
    assert subscription.trust == "high"
    page = client.get(reverse("exchange_settings")).content.decode()
    assert "bank.nebula.example" in page and "agx_a_b" not in page
    client.post(reverse("exchange_subscription_delete", args=[subscription.pk]))
    assert not ExchangeSubscription.objects.exists()
    actions = set(
        AuditEvent.objects.filter(agency=agency, action__startswith="exchange.").values_list(
            "action", flat=True
        )
    )
    assert {"exchange.subscription_created", "exchange.subscription_deleted"} <= actions


def test_the_exchange_page_is_for_admins(client, bob, carol):
    for user in (bob, carol):
        client.force_login(user)
        assert client.get(reverse("exchange_settings")).status_code == 403
