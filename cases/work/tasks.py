"""Celery tasks of the work context: the daily digest's hourly sweep (beat) and one mail
per member. Thin: ids in, one service call."""

from __future__ import annotations

from celery import shared_task

from cases.work.services.digest import digest_queue_due, digest_send


@shared_task(acks_late=True)
def digest_due_task() -> int:
    return digest_queue_due()


@shared_task(acks_late=True, reject_on_worker_lost=True)
def digest_mail_task(user_id: int) -> bool:
    return digest_send(user_id=user_id)
