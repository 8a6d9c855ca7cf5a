"""Done-when 5: webhook deliveries are signed (HMAC-SHA256 over the raw body), retried
with exponential backoff, pass the SSRF policy, and never carry another agency's data."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from unittest import mock

import pytest

from cases.agency.models import Platform
from cases.notices.models import DeliveryStatus, LegalBasis, WebhookDelivery
from cases.notices.services.drafts import notice_create
from cases.notices.services.outcomes import notice_acknowledge
from cases.notices.services.sending import notice_send
from cases.notices.tasks import WEBHOOK_MAX_RETRIES, webhook_deliver
from cases.notices.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookError,
    webhook_delivery_attempt,
    webhook_save,
    webhook_verify,
)
from tests.factories import make_finding

pytestmark = pytest.mark.django_db


@dataclass
class Receiver:
    """A partner's endpoint: answers with the next queued status (200 when none)."""

    statuses: list[int] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    server: http.server.ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver(settings) -> Iterator[Receiver]:  # type: ignore[no-untyped-def]
    state = Receiver()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.requests.append((self.path, dict(self.headers), body))
            code = state.statuses.pop(0) if state.statuses else 200
            self.send_response(code)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    state.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=state.server.serve_forever, daemon=True).start()
    settings.CAPTURE_ALLOW_LOOPBACK_FOR_TESTS = True
    settings.WEBHOOK_ALLOWED_PORTS = [state.server.server_address[1]]
    yield state
    state.server.shutdown()
    state.server.server_close()


@pytest.fixture
def eager_retries() -> Iterator[None]:
    """Eager tasks run their retries inline only when errors do not propagate (Celery's
    Task.apply re-applies the retry signature itself); the countdowns are still computed."""
    from agencyguard.celery import app

    before = app.conf.task_eager_propagates
    app.conf.task_eager_propagates = False
    yield
    app.conf.task_eager_propagates = before


def _events(receiver: Receiver) -> list[str]:
    return [json.loads(body)["event"] for _p, _h, body in receiver.requests]


def test_deliveries_are_signed_over_the_raw_body(
    receiver, agency, alice, make_notice, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    hook = webhook_save(agency=agency, actor=alice, url=receiver.url, events=["notice.sent"])
    with django_capture_on_commit_callbacks(execute=True):
        notice = notice_send(notice=make_notice(LegalBasis.DMCA_512C3), actor=None)

    ((path, headers, body),) = receiver.requests
    assert path == "/hook"
    assert headers[SIGNATURE_HEADER].startswith("sha256=")
    assert webhook_verify(hook.secret, body, headers[SIGNATURE_HEADER])
    assert not webhook_verify("another secret", body, headers[SIGNATURE_HEADER])
    assert not webhook_verify(hook.secret, body + b" ", headers[SIGNATURE_HEADER])
    assert headers[TIMESTAMP_HEADER].isdigit()
    payload = json.loads(body)
    assert payload["event"] == "notice.sent" and payload["agency"] == "aurora"
    assert payload["notice"]["id"] == notice.pk
    assert payload["notice"]["rendered_sha256"] == notice.rendered_sha256
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 1
    assert delivery.body.encode() == body


def test_only_subscribed_events_are_delivered(
    receiver, agency, alice, make_notice, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    webhook_save(agency=agency, actor=alice, url=receiver.url, events=["notice.acknowledged"])
    with django_capture_on_commit_callbacks(execute=True):
        notice = notice_send(notice=make_notice(LegalBasis.DMCA_512C3), actor=None)
        notice_acknowledge(notice=notice, actor=None, platform_reference="X")
    assert _events(receiver) == ["notice.acknowledged"]


def test_a_failing_endpoint_is_retried_with_exponential_backoff(
    eager_retries, receiver, agency, alice, make_notice, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    webhook_save(agency=agency, actor=alice, url=receiver.url, events=["notice.sent"])
    receiver.statuses = [500, 502, 500]
    countdowns: list[int] = []
    original = webhook_deliver.retry

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        countdowns.append(kwargs["countdown"])
        return original(*args, **kwargs)

    with (
        mock.patch.object(webhook_deliver, "retry", side_effect=spy),
        django_capture_on_commit_callbacks(execute=True),
    ):
        notice_send(notice=make_notice(LegalBasis.DMCA_512C3), actor=None)

    assert countdowns == [30, 60, 120]  # 30 s doubling, no jitter
    assert len(receiver.requests) == 4
    bodies = {body for _p, _h, body in receiver.requests}
    assert len(bodies) == 1  # the same signed body every time
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 4
    assert [entry[1] for entry in delivery.attempt_log] == [500, 502, 500, 200]


def test_a_delivery_that_keeps_failing_is_marked_failed_after_the_last_retry(
    eager_retries, receiver, agency, alice, make_notice, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    webhook_save(agency=agency, actor=alice, url=receiver.url, events=["notice.sent"])
    receiver.statuses = [500] * 20
    with django_capture_on_commit_callbacks(execute=True):
        notice_send(notice=make_notice(LegalBasis.DMCA_512C3), actor=None)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == WEBHOOK_MAX_RETRIES + 1
    # A late redelivery of the task does nothing more.
    webhook_delivery_attempt(delivery_id=delivery.pk)
    assert WebhookDelivery.objects.get().attempts == WEBHOOK_MAX_RETRIES + 1


def test_deliveries_never_carry_another_agencys_data(
    receiver, agency, other_agency, alice, mallory, make_notice, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    ours = webhook_save(agency=agency, actor=alice, url=receiver.url, events=["notice.sent"])
    theirs = webhook_save(
        agency=other_agency, actor=mallory, url=receiver.url + "?nebula", events=["notice.sent"]
    )
    nebula_platform = Platform.objects.create(
        agency=other_agency,
        name="Nebula Host",
        domains=["site.test"],
        abuse_email="a@site.test",
        channel=Platform.Channel.EMAIL,  # a web-form notice is not sent until submitted
    )
    nebula_finding = make_finding(other_agency, "http://site.test/nebula-secret", actor=mallory)
    assert nebula_finding.platform_id == nebula_platform.pk

    with django_capture_on_commit_callbacks(execute=True):
        notice_send(notice=make_notice(LegalBasis.DMCA_512C3), actor=None)

    ((path, headers, body),) = receiver.requests
    assert path == "/hook"  # only Aurora's endpoint was called
    assert webhook_verify(ours.secret, body, headers[SIGNATURE_HEADER])
    assert not webhook_verify(theirs.secret, body, headers[SIGNATURE_HEADER])
    text = body.decode()
    assert (
        "nebula" not in text.lower()
        and str(nebula_finding.pk) not in json.loads(text)["notice"]["findings"]
    )
    assert WebhookDelivery.objects.filter(webhook=theirs).count() == 0

    # And the other way round: Nebula's notice reaches Nebula's endpoint only.
    nebula_notice = notice_create(
        agency=other_agency, actor=mallory, findings=[nebula_finding], legal_basis="platform_policy"
    )
    with django_capture_on_commit_callbacks(execute=True):
        notice_send(notice=nebula_notice, actor=None)
    path, _headers, body = receiver.requests[1]
    assert path == "/hook?nebula"
    assert "aurora" not in body.decode().lower()
    assert "site.test/gone" not in body.decode()


def test_webhook_urls_pass_the_ssrf_policy(settings, agency, alice) -> None:  # type: ignore[no-untyped-def]
    settings.WEBHOOK_ALLOWED_PORTS = [80, 443]
    for url in (
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1/hook",
        "http://0x7f.1/hook",
        "http://[::ffff:10.0.0.1]/hook",
        "ftp://partner.example/hook",
        "http://partner.example:8080/hook",
    ):
        with pytest.raises(WebhookError):
            webhook_save(agency=agency, actor=alice, url=url, events=["notice.sent"])


def test_a_webhook_host_that_resolves_inside_is_refused_at_delivery(
    settings, agency, alice, make_notice
) -> None:  # type: ignore[no-untyped-def]
    settings.WEBHOOK_ALLOWED_PORTS = [80, 443]
    hook = webhook_save(
        agency=agency,
        actor=alice,
        url="https://rebind.partner.example/hook",
        events=["notice.sent"],
    )
    dialled: list[str] = []
    notice = notice_send(notice=make_notice(LegalBasis.DMCA_512C3), actor=None)
    delivery = WebhookDelivery.objects.get(webhook=hook)
    assert notice.pk
    result = webhook_delivery_attempt(
        delivery_id=delivery.pk,
        final=True,
        resolver=lambda host, port: ["10.0.0.7"],
        connector=lambda ip, port, timeout: dialled.append(ip),  # type: ignore[arg-type,func-returns-value]
    )
    assert result is not None and result.status == DeliveryStatus.FAILED
    assert "refused" in result.attempt_log[0][2]
    assert dialled == []
