"""Subscriptions to partners' banks over a real HTTP round trip (the live server of this
test process, reached through the SSRF-safe fetcher's loopback test switch): a fake
confirmed in Aurora's bank is recognised on Nebula's next upload, consent withdrawn removes
it on the next fetch, and a page that does not verify is refused, logged and shown."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.urls import reverse

from cases.agency.services.consent import artist_consent_withdraw
from cases.evidence.services.evidence import evidence_open
from cases.kernel.models import AuditEvent
from cases.matching.exchange_format import SIGNATURE_HEADER, feed_dumps, feed_sign
from cases.matching.models import PartnerMatch, PartnerMatchKind, PartnerSignal
from cases.matching.pdq.hashes import MATCH_DISTANCE
from cases.matching.services.exchange import (
    ExchangeError,
    partner_create,
    subscription_fetch,
    subscription_save,
    subscriptions_due,
)
from tests.exchange.conftest import fake_of
from tests.factories import make_finding
from tests.matching.conftest import store_image
from tests.matching.images import jpeg_bytes, portrait, resized

BANK = "/api/exchange/bank/"


@pytest.fixture
def loopback(settings):  # type: ignore[no-untyped-def]
    def allow(url: str) -> None:
        settings.CAPTURE_ALLOW_LOOPBACK_FOR_TESTS = True
        settings.EXCHANGE_ALLOWED_PORTS = [443, urlsplit(url).port]

    return allow


@pytest.mark.django_db(transaction=True)
def test_a_fake_confirmed_by_a_partner_is_recognised_on_a_new_upload_until_consent_is_withdrawn(
    live_server, loopback, client, agency, other_agency, alice, bob, mallory, consenting, finding
):
    loopback(live_server.url)
    original = portrait("obama")
    published = fake_of(agency, original, finding, bob)
    partner, key = partner_create(agency=agency, actor=alice, name="Nebula Music")
    subscription = subscription_save(
        agency=other_agency,
        actor=mallory,
        name="Aurora Entertainment",
        feed_url=live_server.url + BANK,
        api_key=key,
        signing_key=partner.signing_key,
    )
    report = subscription_fetch(subscription_id=subscription.pk)
    assert (report.error, report.pages, report.added) == ("", 1, 1)
    subscription.refresh_from_db()
    assert subscription.cursor >= 1 and subscription.last_ok_at is not None
    signal = PartnerSignal.objects.get(subscription=subscription)
    assert signal.agency == other_agency and signal.sha256 == published.sha256

    # Nebula's new upload: a smaller, recompressed copy of the confirmed fake.
    theirs = make_finding(other_agency, "https://x.com/nebula/status/7", actor=mallory)
    copy = store_image(
        other_agency, jpeg_bytes(resized(original, 0.7), 70), finding=theirs, actor=mallory
    )
    match = PartnerMatch.objects.get(evidence=copy)
    assert match.subscription == subscription and match.kind == PartnerMatchKind.PDQ
    assert match.distance <= MATCH_DISTANCE and match.labels == ["deepfake"]
    assert match.agency == other_agency
    audit = AuditEvent.objects.get(agency=other_agency, action="evidence.partner_matched")
    assert audit.data["matches"][0]["partner"] == "Aurora Entertainment"
    # The same bytes match on SHA-256, at distance 0.
    same = make_finding(other_agency, "https://x.com/nebula/status/8", actor=mallory)
    exact = store_image(other_agency, bytes(open_bytes(published)), finding=same, actor=mallory)
    assert PartnerMatch.objects.get(evidence=exact).kind == PartnerMatchKind.SHA256
    # The finding page says which partner's signal matched and how close.
    client.force_login(mallory)
    page = client.get(reverse("finding_detail", args=[theirs.pk])).content.decode()
    assert "Aurora Entertainment" in page and "data-partner-match" in page
    # Aurora sees none of it.
    assert not PartnerMatch.objects.filter(agency=agency).exists()

    artist_consent_withdraw(artist=consenting, actor=alice)
    report = subscription_fetch(subscription_id=subscription.pk)
    assert (report.error, report.deleted) == ("", 1)
    assert not PartnerSignal.objects.filter(subscription=subscription).exists()
    later = make_finding(other_agency, "https://x.com/nebula/status/9", actor=mallory)
    again = store_image(
        other_agency, jpeg_bytes(resized(original, 0.8), 80), finding=later, actor=mallory
    )
    assert not PartnerMatch.objects.filter(evidence=again).exists()
    fetched = AuditEvent.objects.filter(agency=other_agency, action="exchange.fetched")
    assert fetched.count() == 2
    assert AuditEvent.objects.filter(agency=agency, action="exchange.page_served").count() == 2


def open_bytes(evidence: Any) -> bytes:
    with evidence_open(evidence) as handle:
        return handle.read()


class _Feed(http.server.BaseHTTPRequestHandler):
    body = b""
    signature = ""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.body)))
        if self.signature:
            self.send_header(SIGNATURE_HEADER, self.signature)
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def feed_server() -> Iterator[tuple[str, type[_Feed]]]:
    handler = type("Feed", (_Feed,), {})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/exchange/bank/", handler
    server.shutdown()
    server.server_close()


def _signed_page(key: str) -> tuple[bytes, str]:
    body = feed_dumps(
        {
            "format": "agencyguard-bank/1",
            "cursor": 0,
            "next_cursor": 1,
            "has_more": False,
            "signals": [
                {
                    "id": "a" * 64,
                    "seq": 1,
                    "op": "add",
                    "sha256": "a" * 64,
                    "md5": "b" * 32,
                    "pdq": ["c" * 64],
                    "vpdq": [],
                    "labels": ["deepfake"],
                }
            ],
        }
    )
    return body, feed_sign(key, body)


@pytest.mark.django_db
@pytest.mark.parametrize("tamper", ["body", "signature", "missing", "other_key"])
def test_a_page_that_does_not_verify_is_refused_logged_and_shown(
    tamper, feed_server, loopback, client, other_agency, mallory
):
    url, handler = feed_server
    loopback(url)
    body, signature = _signed_page("shared key")
    if tamper == "body":
        body = body.replace(b'"deepfake"', b'"sexual"')
    elif tamper == "signature":
        signature = signature[:-2] + ("00" if not signature.endswith("00") else "11")
    elif tamper == "missing":
        signature = ""
    elif tamper == "other_key":
        signature = feed_sign("not the shared key", body)
    handler.body, handler.signature = body, signature
    subscription = subscription_save(
        agency=other_agency,
        actor=mallory,
        name="Aurora",
        feed_url=url,
        api_key="agx_x_y",
        signing_key="shared key",
    )
    report = subscription_fetch(subscription_id=subscription.pk)
    assert "signature" in report.error and report.added == 0
    subscription.refresh_from_db()
    assert subscription.cursor == 0 and "signature" in subscription.last_error
    assert not PartnerSignal.objects.exists()
    refused = AuditEvent.objects.get(agency=other_agency, action="exchange.fetch_refused")
    assert "signature" in refused.data["error"]
    client.force_login(mallory)
    page = client.get(reverse("exchange_settings")).content.decode()
    assert "data-subscription-error" in page and "signature" in page


@pytest.mark.django_db
def test_a_verified_page_is_applied_and_a_malformed_one_refused(
    feed_server, loopback, other_agency, mallory
):
    url, handler = feed_server
    loopback(url)
    handler.body, handler.signature = _signed_page("k")
    subscription = subscription_save(
        agency=other_agency, actor=mallory, name="A", feed_url=url, api_key="x", signing_key="k"
    )
    assert subscription_fetch(subscription_id=subscription.pk).added == 1
    subscription.refresh_from_db()
    assert subscription.cursor == 1
    # Signed, but not the cursor asked for: refused before anything is applied.
    handler.body, handler.signature = _signed_page("k")
    report = subscription_fetch(subscription_id=subscription.pk)
    assert "cursor" in report.error
    assert PartnerSignal.objects.count() == 1


@pytest.mark.django_db
def test_a_feed_url_must_pass_the_network_policy(other_agency, mallory):
    for url in ("http://169.254.169.254/latest", "ftp://example.com/feed", "http://10.0.0.1/"):
        with pytest.raises(ExchangeError):
            subscription_save(
                agency=other_agency,
                actor=mallory,
                name="x",
                feed_url=url,
                api_key="k",
                signing_key="s",
            )


@pytest.mark.django_db
def test_the_sweep_queues_only_due_active_subscriptions(settings, other_agency, mallory):
    settings.EXCHANGE_ALLOWED_PORTS = [443]
    due = subscription_save(
        agency=other_agency,
        actor=mallory,
        name="due",
        feed_url="https://bank.example/api/exchange/bank/",
        api_key="k",
        signing_key="s",
    )
    assert subscriptions_due() == [due.pk]
    due.active = False
    due.save()
    assert subscriptions_due() == []
