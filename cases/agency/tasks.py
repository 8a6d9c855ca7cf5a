"""Agency tasks: the self-service password reset mail, sent by a worker so the public page
answers in the same time whether or not an account has the address."""

from __future__ import annotations

from celery import shared_task

from cases.agency.services.account import password_reset_mail


@shared_task(acks_late=True, reject_on_worker_lost=True)
def password_reset_mail_task(user_id: int, language: str) -> None:
    password_reset_mail(user_id=user_id, language=language)
