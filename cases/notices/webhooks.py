"""Partner webhooks: notice status changes, signed with HMAC-SHA256, sent by a Celery task
with retries and exponential backoff.

Signature: ``X-AgencyGuard-Signature: sha256=<hex>``, the HMAC-SHA256 of the raw request
body under the webhook's secret; ``X-AgencyGuard-Timestamp`` carries the attempt's Unix
time and ``X-AgencyGuard-Delivery`` the delivery id (also inside the signed body, so a
receiver can drop replays). Each delivery body is built once, from the notice's own agency
only, and resent byte for byte on retries.

The target URL is chosen by an agency admin, so it goes through the same network policy
as suspect URLs (cases.kernel.net.policy): resolved once, every address checked, the
connection opened to the checked address. The capture fetcher only does GET, so the POST
below reuses its pinned connection (cases.kernel.net.connection); redirects are not followed.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.kernel.audit.services import audit_record
from cases.kernel.models import Agency
from cases.kernel.net.connection import (
    Connector,
    Resolver,
    Watchdog,
    connection_open,
    direct_connector,
    pinned_addresses,
    system_resolver,
)
from cases.kernel.net.outcome import Deadline, Failure
from cases.kernel.net.policy import Policy, PolicyRefused, check_url
from cases.kernel.outbox import outbox_enqueue_many
from cases.notices.models import DeliveryStatus, Notice, Webhook, WebhookDelivery, WebhookEvent

SIGNATURE_HEADER = "X-AgencyGuard-Signature"
TIMESTAMP_HEADER = "X-AgencyGuard-Timestamp"
DELIVERY_HEADER = "X-AgencyGuard-Delivery"
MAX_RESPONSE_BYTES = 64 * 1024


class WebhookError(ValueError):
    """A webhook setting that cannot be saved; the message is for the user."""


class WebhookDeliveryFailed(Exception):
    """One attempt failed (network, refusal, non-2xx): the task retries with backoff."""


def webhook_sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def webhook_verify(secret: str, body: bytes, signature: str) -> bool:
    """What a receiver does (and the tests): constant-time compare of the signature."""
    return hmac.compare_digest(webhook_sign(secret, body), signature)


def webhook_policy() -> Policy:
    return Policy(
        allowed_ports=frozenset(settings.WEBHOOK_ALLOWED_PORTS),
        allow_loopback=settings.CAPTURE_ALLOW_LOOPBACK_FOR_TESTS,
        total_deadline=float(settings.WEBHOOK_TIMEOUT_S),
        connect_timeout=float(settings.WEBHOOK_TIMEOUT_S),
        read_timeout=float(settings.WEBHOOK_TIMEOUT_S),
        max_redirects=0,
        user_agent="AgencyGuard-Webhook/1.0",
    )


# ------------------------------------------------------------------------- admin writes


def _clean_events(events: Iterable[str]) -> list[str]:
    chosen = [e for e in dict.fromkeys(events) if e in WebhookEvent.values]
    if not chosen:
        raise WebhookError(_("Choose at least one event."))
    return chosen


def webhook_save(
    *,
    agency: Agency,
    actor: User,
    url: str,
    events: Iterable[str],
    active: bool = True,
    webhook: Webhook | None = None,
) -> Webhook:
    """Create (with a fresh secret) or change a webhook. The URL must pass the network
    policy's URL checks now; its addresses are checked again on every delivery."""
    try:
        check_url(url, webhook_policy())
    except PolicyRefused as exc:
        raise WebhookError(
            _("This URL cannot receive webhooks: %(why)s") % {"why": exc.reason}
        ) from exc
    chosen = _clean_events(events)
    with transaction.atomic():
        if webhook is None:
            webhook = Webhook.objects.create(
                agency=agency,
                url=url,
                events=chosen,
                active=active,
                secret=secrets.token_hex(32),
                created_by=actor,
            )
            action = "webhook.created"
        else:
            webhook.url, webhook.events, webhook.active = url, chosen, active
            webhook.save(update_fields=["url", "events", "active"])
            action = "webhook.updated"
        # The secret itself is never written to the audit trail.
        audit_record(
            agency=agency,
            actor=actor,
            action=action,
            obj=webhook,
            data={"url": url, "events": chosen, "active": active},
        )
    return webhook


def webhook_rotate_secret(*, webhook: Webhook, actor: User) -> Webhook:
    with transaction.atomic():
        webhook.secret = secrets.token_hex(32)
        webhook.save(update_fields=["secret"])
        audit_record(
            agency=webhook.agency, actor=actor, action="webhook.secret_rotated", obj=webhook
        )
    return webhook


# ------------------------------------------------------------------------- events


def notice_payload(notice: Notice, event: str) -> dict[str, Any]:
    """What a partner learns: the notice and its findings, nothing of any other agency."""
    findings = notice.findings.filter(agency_id=notice.agency_id).order_by("pk")
    return {
        "event": event,
        "agency": notice.agency.slug,
        "notice": {
            "id": notice.pk,
            "status": notice.status,
            "legal_basis": notice.legal_basis,
            "language": notice.language,
            "channel": notice.channel,
            "platform": notice.platform.name,
            "platform_reference": notice.platform_reference,
            "sent_at": notice.sent_at.isoformat() if notice.sent_at else None,
            "due_at": notice.due_at.isoformat() if notice.due_at else None,
            "acknowledged_at": notice.acknowledged_at.isoformat()
            if notice.acknowledged_at
            else None,
            "closed_at": notice.closed_at.isoformat() if notice.closed_at else None,
            "rendered_sha256": notice.rendered_sha256,
            "findings": [
                {"id": f.pk, "url": f.canonical_url, "status": f.status} for f in findings
            ],
        },
    }


def _enqueue(ids: list[int]) -> None:
    """Queue the deliveries through the outbox, in the caller's transaction."""
    outbox_enqueue_many("cases.notices.tasks.webhook_deliver", [{"delivery_id": i} for i in ids])


def webhook_emit(*, notice: Notice, event: str) -> list[WebhookDelivery]:
    """One delivery per active webhook of the notice's agency subscribed to `event`,
    queued after commit. Runs inside the caller's transaction."""
    hooks = [
        hook
        for hook in Webhook.objects.filter(agency_id=notice.agency_id, active=True)
        if event in hook.events
    ]
    if not hooks:
        return []
    payload = notice_payload(notice, event)
    created = []
    for hook in hooks:
        delivery = WebhookDelivery.objects.create(
            agency_id=notice.agency_id, webhook=hook, event=event, body=""
        )
        body = {"delivery": delivery.pk, "created_at": timezone.now().isoformat(), **payload}
        delivery.body = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        delivery.save(update_fields=["body"])
        created.append(delivery)
    _enqueue([d.pk for d in created])
    return created


# ------------------------------------------------------------------------- the POST


@dataclass
class PostResult:
    status: int
    body: bytes


def webhook_post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    policy: Policy,
    *,
    resolver: Resolver | None = None,
    connector: Connector | None = None,
) -> PostResult:
    """POST `body` to `url` over a connection pinned to a checked address (the fetcher's
    internals: check_url, one resolution with every answer checked, the watchdog)."""
    deadline = Deadline(policy.total_deadline)
    target = check_url(url, policy)
    addresses = pinned_addresses(target, policy, resolver or system_resolver, deadline)
    sock, ip = connection_open(target, addresses, policy, connector or direct_connector, deadline)
    watchdog = Watchdog(sock, deadline)
    connection = http.client.HTTPConnection(ip, target.port)
    connection.sock = sock
    try:
        sock.settimeout(deadline.budget(policy.read_timeout))
        request_headers = {
            "Host": target.host_header,
            "User-Agent": policy.user_agent,
            "Content-Type": "application/json",
            "Content-Length": str(len(body)),
            "Connection": "close",
            **headers,
        }
        connection.request("POST", target.request_target, body=body, headers=request_headers)
        response = connection.getresponse()
        return PostResult(response.status, response.read(MAX_RESPONSE_BYTES))
    finally:
        watchdog.cancel()
        connection.close()
        sock.close()


def webhook_delivery_attempt(
    *,
    delivery_id: int,
    final: bool = False,
    resolver: Resolver | None = None,
    connector: Connector | None = None,
) -> WebhookDelivery | None:
    """One attempt. A failure raises WebhookDeliveryFailed (the task retries), except on the
    `final` attempt, which marks the delivery failed instead."""
    delivery = WebhookDelivery.objects.select_related("webhook").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != DeliveryStatus.PENDING:
        return delivery  # delivered already (a redelivered task), or gone
    hook = delivery.webhook
    body = delivery.body.encode()
    headers = {
        SIGNATURE_HEADER: webhook_sign(hook.secret, body),
        TIMESTAMP_HEADER: str(int(time.time())),
        DELIVERY_HEADER: str(delivery.pk),
    }
    status: int | None = None
    error = ""
    try:
        result = webhook_post(
            hook.url, body, headers, webhook_policy(), resolver=resolver, connector=connector
        )
        status = result.status
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except PolicyRefused as exc:
        error = f"refused: {exc.reason}"
    except (Failure, OSError, http.client.HTTPException) as exc:
        error = str(exc) or exc.__class__.__name__
    now = timezone.now()
    delivery.attempts += 1
    delivery.attempt_log = [*delivery.attempt_log, [now.isoformat(), status, error[:300]]]
    delivery.response_status = status
    if not error:
        delivery.status, delivery.delivered_at = DeliveryStatus.DELIVERED, now
    elif final:
        delivery.status = DeliveryStatus.FAILED
    delivery.save(
        update_fields=["attempts", "attempt_log", "response_status", "status", "delivered_at"]
    )
    if error and not final:
        raise WebhookDeliveryFailed(error)
    return delivery
