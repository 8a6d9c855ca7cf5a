"""Agency tasks: the self-service password reset mail, sent by a worker so the public page
answers in the same time whether or not an account has the address; the RDAP lookup of a
host's abuse contacts (never in a web request)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from cases.agency.services.abuse_lookups import AbuseLookupRetry, abuse_lookup_run
from cases.agency.services.account import password_reset_mail


@shared_task(acks_late=True, reject_on_worker_lost=True)
def password_reset_mail_task(user_id: int, language: str) -> None:
    password_reset_mail(user_id=user_id, language=language)


# Retries of a lookup whose RDAP server could not be reached: 60 s, 120 s, 240 s; the last
# try stores the failure ("lookup failed: <reason>") instead of retrying.
ABUSE_LOOKUP_MAX_RETRIES = 3


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(AbuseLookupRetry,),
    retry_backoff=60,
    retry_jitter=False,
    max_retries=ABUSE_LOOKUP_MAX_RETRIES,
)
def abuse_lookup_task(self: Any, lookup_id: int) -> None:
    abuse_lookup_run(lookup_id=lookup_id, final=self.request.retries >= ABUSE_LOOKUP_MAX_RETRIES)
