"""The agency's bank as partners read it: only confirmed fakes of consenting artists, only
hashes and labels, paged by a stable cursor, with deletions, signed, and tenant-bound."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse
from PIL import Image
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cases.agency.services.consent import (
    ConsentError,
    artist_consent_record,
    artist_consent_withdraw,
)
from cases.kernel.models import AuditEvent
from cases.matching.exchange_format import SIGNATURE_HEADER, feed_verify
from cases.matching.models import BankSignal
from cases.matching.services.bank import bank_labels_set
from cases.matching.services.exchange import partner_create, partner_revoke
from detection.models import DetectionReview, ReviewVerdict
from tests.exchange.conftest import confirm, fake_of
from tests.factories import ArtistFactory, make_finding
from tests.matching.conftest import store_image
from tests.matching.images import portrait, scene

pytestmark = pytest.mark.django_db

URL = "/api/exchange/bank/"


def _get(key: str, **params: Any) -> Any:
    client = APIClient()
    return client.get(URL, params, HTTP_AUTHORIZATION=f"Bearer {key}")


def _page(key: str, **params: Any) -> dict[str, Any]:
    response = _get(key, **params)
    assert response.status_code == 200, response.content
    return json.loads(response.content)


def _ids(page: dict[str, Any], op: str = "add") -> list[str]:
    return [entry["id"] for entry in page["signals"] if entry["op"] == op]


def test_the_url_is_under_the_api_namespace() -> None:
    assert reverse("api:exchange-bank") == URL


def test_the_feed_holds_only_confirmed_fakes_whose_artists_all_consent(
    agency, bob, alice, consenting, partner_and_key
):
    _partner, key = partner_and_key
    shy = ArtistFactory(agency=agency, stage_name="Shy-secret", legal_name="Shy Legal-secret")
    mine = make_finding(agency, "https://x.com/fake/status/1", actor=bob, artists=[consenting])
    theirs = make_finding(agency, "https://x.com/fake/status/2", actor=bob, artists=[shy])
    both = make_finding(agency, "https://x.com/fake/status/3", actor=bob, artists=[consenting, shy])
    nobody = make_finding(agency, "https://x.com/fake/status/4", actor=bob)
    published = fake_of(agency, portrait("obama"), mine, bob)
    fake_of(agency, scene(1), theirs, bob)
    fake_of(agency, scene(2), both, bob)
    fake_of(agency, scene(3), nobody, bob)
    unsure = store_image(agency, scene(4), finding=mine, actor=bob)
    confirm(unsure, bob, ReviewVerdict.UNSURE)
    not_reviewed = store_image(agency, scene(5), finding=mine, actor=bob)

    response = _get(key)
    page = json.loads(response.content)
    assert _ids(page) == [published.sha256]
    entry = page["signals"][0]
    assert set(entry) == {"id", "seq", "op", "sha256", "md5", "pdq", "vpdq", "labels"}
    assert entry["sha256"] == published.sha256 and len(entry["md5"]) == 32
    assert entry["pdq"][0] == published.pdq_hash
    assert entry["labels"] == ["deepfake"]
    body = response.content.decode()
    for secret in ("Yuna", "유나", "Kim Yuna", "Shy", "http", "x.com", "copy.jpg", "aurora"):
        assert secret.lower() not in body.lower(), secret
    assert not_reviewed.sha256 not in body and unsure.sha256 not in body
    assert len(response.content) < 2000  # hashes only: never the media


def test_pages_follow_the_change_sequence_and_a_cursor_is_stable(
    agency, bob, consenting, finding, partner_and_key
):
    _partner, key = partner_and_key
    fakes = [fake_of(agency, scene(10 + i), finding, bob) for i in range(5)]
    first = _page(key, limit=2)
    assert first["cursor"] == 0 and first["has_more"] is True and len(first["signals"]) == 2
    second = _page(key, cursor=first["next_cursor"], limit=2)
    third = _page(key, cursor=second["next_cursor"], limit=2)
    assert third["has_more"] is False
    seen = _ids(first) + _ids(second) + _ids(third)
    assert seen == [e.sha256 for e in fakes]
    seqs = [s["seq"] for p in (first, second, third) for s in p["signals"]]
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    end = _page(key, cursor=third["next_cursor"])
    assert end["signals"] == [] and end["next_cursor"] == third["next_cursor"]
    # A later change shows up after the kept cursor, and only it.
    later = fake_of(agency, scene(20), finding, bob)
    assert _ids(_page(key, cursor=third["next_cursor"])) == [later.sha256]
    # A label change is a new entry for the same signal, further on.
    bank_labels_set(evidence=fakes[0], labels=["sexual"], actor=bob)
    newest = _page(key, cursor=third["next_cursor"])
    assert [(s["id"], s["labels"]) for s in newest["signals"]][-1] == (
        fakes[0].sha256,
        ["deepfake", "sexual"],
    )


def test_withdrawn_consent_and_a_reversed_verdict_are_delete_entries(
    agency, alice, bob, consenting, finding, partner_and_key
):
    _partner, key = partner_and_key
    kept = fake_of(agency, scene(30), finding, bob)
    reversed_ = fake_of(agency, scene(31), finding, bob)
    cursor = _page(key)["next_cursor"]
    confirm(reversed_, bob, ReviewVerdict.NOT_FAKE)
    page = _page(key, cursor=cursor)
    assert page["signals"] == [{"id": reversed_.sha256, "seq": cursor + 1, "op": "delete"}]
    cursor = page["next_cursor"]

    artist_consent_withdraw(artist=consenting, actor=alice)
    page = _page(key, cursor=cursor)
    assert _ids(page, "delete") == [kept.sha256] and _ids(page) == []
    assert BankSignal.objects.get(evidence=kept).published is False
    # From the start, a new partner sees no add entry left.
    assert _ids(_page(key)) == []
    # Consent given again publishes it again.
    artist_consent_record(artist=consenting, actor=alice)
    assert _ids(_page(key, cursor=page["next_cursor"])) == [kept.sha256]


def test_consent_is_one_grant_at_a_time_and_audited(agency, alice, artist):
    artist_consent_record(artist=artist, actor=alice)
    with pytest.raises(ConsentError):
        artist_consent_record(artist=artist, actor=alice)
    artist_consent_withdraw(artist=artist, actor=alice)
    with pytest.raises(ConsentError):
        artist_consent_withdraw(artist=artist, actor=alice)
    actions = list(
        AuditEvent.objects.filter(agency=agency, action__startswith="artist.share_consent")
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == ["artist.share_consent_recorded", "artist.share_consent_withdrawn"]


def test_every_page_is_signed_over_its_exact_bytes(
    agency, bob, consenting, finding, partner_and_key
):
    partner, key = partner_and_key
    fake_of(agency, scene(40), finding, bob)
    response = _get(key)
    signature = response[SIGNATURE_HEADER]
    assert signature.startswith("sha256=")
    assert feed_verify(partner.signing_key, response.content, signature)
    tampered = response.content.replace(b'"deepfake"', b'"defamatory"')
    assert not feed_verify(partner.signing_key, tampered, signature)
    # One hex digit changed (to another digit: "0" when it was "0" would change nothing).
    changed = signature[:-1] + ("1" if signature.endswith("0") else "0")
    assert changed != signature
    assert not feed_verify(partner.signing_key, response.content, changed)
    assert not feed_verify("another key", response.content, signature)
    served = AuditEvent.objects.filter(agency=agency, action="exchange.page_served").last()
    assert served is not None and served.data["entries"] == 1


def test_only_a_valid_partner_key_reads_and_only_its_own_agency_bank(
    agency, other_agency, alice, bob, mallory, consenting, finding, partner_and_key
):
    partner, key = partner_and_key
    ours = fake_of(agency, scene(50), finding, bob)
    # Nebula has its own consenting artist and confirmed fake, and its own partner.
    star = ArtistFactory(agency=other_agency, stage_name="Nebula Star")
    artist_consent_record(artist=star, actor=mallory)
    theirs_finding = make_finding(
        other_agency, "https://x.com/nebula/status/9", actor=mallory, artists=[star]
    )
    theirs = fake_of(other_agency, scene(51), theirs_finding, mallory)
    _nebula_partner, nebula_key = partner_create(agency=other_agency, actor=mallory, name="A")

    assert _ids(_page(key)) == [ours.sha256]
    assert _ids(_page(nebula_key)) == [theirs.sha256]

    assert APIClient().get(URL).status_code == 401
    assert _get(key + "x").status_code == 401
    assert _get("agx_00000000_nothing").status_code == 401
    member = APIClient()
    member.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=alice).key}")
    assert member.get(URL).status_code in (401, 403)
    session = APIClient()
    session.force_login(alice)
    assert session.get(URL).status_code in (401, 403)
    partner_revoke(partner=partner, actor=alice)
    assert _get(key).status_code == 401


def test_a_method_the_feed_lacks_is_a_405_with_or_without_a_key(agency, partner_and_key):
    _partner, key = partner_and_key
    keyed = APIClient()
    keyed.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    for client in (APIClient(), keyed):
        for method in ("post", "put", "patch", "delete"):
            assert getattr(client, method)(URL, {}).status_code == 405, method


def test_a_bad_cursor_or_limit_is_a_400(agency, partner_and_key):
    _partner, key = partner_and_key
    for params in ({"cursor": "-1"}, {"cursor": "abc"}, {"limit": "0"}, {"limit": "5000"}):
        response = _get(key, **params)
        assert response.status_code == 400, params
        assert "detail" in response.json()


def test_the_feed_is_throttled_per_partner_key(settings, agency, alice, partner_and_key):
    _partner, key = partner_and_key
    _other, other_key = partner_create(agency=agency, actor=alice, name="Other")
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": None, "user": None, "token": None, "exchange": "2/min"},
    }
    assert [_get(key).status_code for _ in range(3)] == [200, 200, 429]
    assert _get(other_key).status_code == 200


def test_the_feed_is_in_the_openapi_schema(client, alice):
    client.force_login(alice)
    schema = client.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/exchange/bank/"]["get"]
    assert operation["operationId"] == "exchange_bank"
    assert {"partnerKey": []} in operation["security"]
    assert schema["components"]["securitySchemes"]["partnerKey"]["scheme"] == "bearer"


def test_partners_and_published_signals_are_audited(agency, alice, bob, consenting, finding):
    partner, _key = partner_create(agency=agency, actor=alice, name="Nebula")
    evidence = fake_of(agency, scene(60), finding, bob)
    created = AuditEvent.objects.get(agency=agency, action="exchange.partner_created")
    assert created.data == {"name": "Nebula", "key_prefix": partner.key_prefix}
    published = AuditEvent.objects.get(agency=agency, action="exchange.bank_published")
    assert published.object_id == str(evidence.pk) and published.data["seq"] == 1


def test_an_artist_without_consent_added_to_the_finding_withdraws_the_signal(
    agency, bob, consenting, finding, partner_and_key
):
    _partner, key = partner_and_key
    evidence = fake_of(agency, scene(70), finding, bob)
    cursor = _page(key)["next_cursor"]
    shy = ArtistFactory(agency=agency, stage_name="Shy")
    finding.artists.add(shy)
    page = _page(key, cursor=cursor)
    assert _ids(page, "delete") == [evidence.sha256]
    # And from the artist's side of the link: removing her publishes it again.
    shy.findings.remove(finding)
    assert _ids(_page(key, cursor=page["next_cursor"])) == [evidence.sha256]
    assert (
        AuditEvent.objects.filter(agency=agency, action="exchange.bank_artists_applied").count()
        == 2
    )


def test_the_backfill_brings_verdicts_from_before_the_bank(
    agency, bob, consenting, finding, partner_and_key
):
    _partner, key = partner_and_key
    evidence = store_image(agency, scene(80), finding=finding, actor=bob)
    # A verdict recorded before the bank existed: the review row without the bank's hook.
    DetectionReview.objects.create(
        agency=agency, evidence=evidence, verdict=ReviewVerdict.CONFIRMED_FAKE, reviewer=bob
    )
    assert _ids(_page(key)) == []
    call_command("exchange_bank_backfill", "--agency", agency.slug)
    assert _ids(_page(key)) == [evidence.sha256]
    call_command("exchange_bank_backfill", "--all")
    assert len(_page(key)["signals"]) == 1  # idempotent: no new change


def test_a_plain_picture_is_published_without_its_unreliable_pdq_hash(
    agency, bob, consenting, finding, partner_and_key
):
    _partner, key = partner_and_key
    plain = fake_of(agency, Image.new("RGB", (320, 240), (120, 120, 120)), finding, bob)
    assert plain.pdq_quality is not None and plain.pdq_quality < 50
    [entry] = _page(key)["signals"]
    assert entry["sha256"] == plain.sha256 and entry["pdq"] == [] and len(entry["md5"]) == 32
