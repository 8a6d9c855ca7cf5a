"""Celery tasks of notices: the deadline sweep (beat) and webhook deliveries. Thin: ids
in, one service call."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from cases.notices.services.deadlines import notice_deadlines_check as deadlines_check
from cases.notices.webhooks import WebhookDeliveryFailed, webhook_delivery_attempt

# Retries of a webhook: 30 s, 60 s, 120 s, ... capped at an hour, 8 attempts in all.
WEBHOOK_RETRY_BACKOFF = 30
WEBHOOK_MAX_RETRIES = 7


@shared_task(acks_late=True)
def notice_deadlines_check() -> dict[str, Any]:
    report = deadlines_check()
    return {
        "reminded": len(report.reminded),
        "escalated": len(report.escalated),
        "no_response": len(report.no_response),
    }


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(WebhookDeliveryFailed,),
    retry_backoff=WEBHOOK_RETRY_BACKOFF,
    retry_backoff_max=3600,
    # No jitter: the schedule is predictable for partners (and for the tests).
    retry_jitter=False,
    max_retries=WEBHOOK_MAX_RETRIES,
)
def webhook_deliver(self: Any, delivery_id: int) -> None:
    # The last allowed attempt records the failure instead of raising for another retry.
    webhook_delivery_attempt(
        delivery_id=delivery_id, final=self.request.retries >= WEBHOOK_MAX_RETRIES
    )
