"""The evidence page's exchange-bank panel: what it says of an item (not in the bank,
published, or withheld and why) is what the bank records, and legal staff set its labels
there."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cases.agency.services.consent import artist_consent_withdraw
from cases.kernel.models import AuditEvent
from cases.matching.models import BankSignal
from detection.models import ReviewVerdict
from tests.exchange.conftest import confirm, fake_of
from tests.factories import ArtistFactory
from tests.matching.conftest import store_image
from tests.matching.images import scene

pytestmark = pytest.mark.django_db


def _panel(client, evidence) -> str:  # type: ignore[no-untyped-def]
    page = client.get(reverse("evidence_detail", args=[evidence.pk])).content.decode()
    start = page.index("data-bank-panel")
    return page[start : page.index("</section>", start)]


def test_an_item_nobody_confirmed_is_not_in_the_bank(client, agency, bob, finding):
    evidence = store_image(agency, scene(40), finding=finding, actor=bob)
    client.force_login(bob)
    panel = _panel(client, evidence)
    assert 'data-bank-state="absent"' in panel and "data-bank-labels-form" not in panel


def test_a_confirmed_fake_of_a_consenting_artist_is_published(
    client, agency, bob, consenting, finding
):
    evidence = fake_of(agency, scene(41), finding, bob)
    client.force_login(bob)
    panel = _panel(client, evidence)
    signal = BankSignal.objects.get(evidence=evidence)
    assert signal.published
    assert 'data-bank-state="published"' in panel and f"change {signal.seq}" in panel


def test_a_withheld_fake_names_the_artists_without_consent(
    client, agency, alice, bob, consenting, finding
):
    evidence = fake_of(agency, scene(42), finding, bob)
    artist_consent_withdraw(artist=consenting, actor=alice)
    client.force_login(bob)
    panel = _panel(client, evidence)
    assert not BankSignal.objects.get(evidence=evidence).published
    assert 'data-bank-state="withheld"' in panel and consenting.stage_name in panel


def test_a_fake_whose_findings_name_no_artist_is_withheld_with_that_reason(
    client, agency, bob, consenting, finding
):
    finding.artists.clear()
    evidence = fake_of(agency, scene(43), finding, bob)
    client.force_login(bob)
    panel = _panel(client, evidence)
    assert 'data-bank-state="withheld"' in panel and "name no artist" in panel
    # A second artist without consent on the same finding: named, the consenting one not.
    other = ArtistFactory(agency=agency, stage_name="Haneul")
    finding.artists.add(consenting, other)
    confirm(evidence, bob)
    panel = _panel(client, evidence)
    assert "Haneul" in panel and consenting.stage_name not in panel


def test_legal_staff_set_labels_and_partners_see_a_new_entry(
    client, agency, bob, consenting, finding
):
    evidence = fake_of(agency, scene(44), finding, bob)
    seq = BankSignal.objects.get(evidence=evidence).seq
    client.force_login(bob)
    url = reverse("evidence_bank_labels", args=[evidence.pk])
    response = client.post(url, {"labels": ["defamatory", "sexual"]})
    assert response.status_code == 302
    signal = BankSignal.objects.get(evidence=evidence)
    assert signal.labels == ["sexual", "defamatory"] and signal.seq > seq
    event = AuditEvent.objects.filter(action="exchange.bank_labels_set").latest("pk")
    assert event.data["labels"] == ["sexual", "defamatory"]
    panel = _panel(client, evidence)
    assert 'data-bank-label="sexual"' in panel and 'data-bank-label="defamatory"' in panel
    # Unticking both takes them away again.
    client.post(url, {})
    assert BankSignal.objects.get(evidence=evidence).labels == []


def test_bad_labels_and_unconfirmed_items_get_a_message_not_a_change(
    client, agency, bob, consenting, finding
):
    evidence = fake_of(agency, scene(45), finding, bob)
    client.force_login(bob)
    url = reverse("evidence_bank_labels", args=[evidence.pk])
    response = client.post(url, {"labels": ["hateful"]}, follow=True)
    assert (
        response.status_code == 200 and "Choose labels from the list." in response.content.decode()
    )
    assert BankSignal.objects.get(evidence=evidence).labels == []
    plain = store_image(agency, scene(46), finding=finding, actor=bob)
    response = client.post(
        reverse("evidence_bank_labels", args=[plain.pk]), {"labels": ["sexual"]}, follow=True
    )
    assert "Only a confirmed fake has labels in the bank." in response.content.decode()
    assert not BankSignal.objects.filter(evidence=plain).exists()
    # A reversed verdict: the item leaves the bank and its labels can no longer be set.
    confirm(evidence, bob, ReviewVerdict.NOT_FAKE)
    client.post(url, {"labels": ["sexual"]})
    assert BankSignal.objects.get(evidence=evidence).labels == []


def test_viewers_see_the_state_but_cannot_set_labels(
    client, agency, bob, carol, consenting, finding
):
    evidence = fake_of(agency, scene(47), finding, bob)
    client.force_login(carol)
    panel = _panel(client, evidence)
    assert 'data-bank-state="published"' in panel and "data-bank-labels-form" not in panel
    url = reverse("evidence_bank_labels", args=[evidence.pk])
    assert client.post(url, {"labels": ["sexual"]}).status_code == 403
    assert BankSignal.objects.get(evidence=evidence).labels == []
