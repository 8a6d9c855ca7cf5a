"""Celery task for re-upload matching: ids in, one service call, nothing else."""

from __future__ import annotations

from celery import shared_task

from cases.matching.services.exchange import subscription_fetch, subscriptions_due
from cases.matching.services.fan_screenshots import fan_screenshot_match
from cases.matching.services.fingerprints import evidence_pdq_run


@shared_task(acks_late=True, max_retries=3, default_retry_delay=30)
def evidence_pdq_task(evidence_id: int) -> None:
    """Hash one evidence item (PDQ), then record its matches and the artist links they
    imply. Idempotent, so a redelivered task changes nothing."""
    evidence_pdq_run(evidence_id=evidence_id)


@shared_task(acks_late=True, max_retries=3, default_retry_delay=30)
def fan_screenshot_pdq_task(screenshot_id: int) -> None:
    """Hash one fan screenshot (PDQ) and link it to the same media sent earlier.
    Idempotent: a hashed screenshot is left as it is."""
    fan_screenshot_match(screenshot_id=screenshot_id)


@shared_task(acks_late=True, max_retries=0)
def exchange_fetch_due_task() -> None:
    """Beat: queue a fetch of every subscription to a partner's bank that is due."""
    for subscription_id in subscriptions_due():
        exchange_fetch_task.delay(subscription_id=subscription_id)


@shared_task(acks_late=True, max_retries=0)
def exchange_fetch_task(subscription_id: int) -> None:
    """Read a partner's new feed pages. Safe to repeat: the cursor is kept per page."""
    subscription_fetch(subscription_id=subscription_id)
