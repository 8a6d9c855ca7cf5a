"""Scheduled audit work: verify every agency's chain, anchor every chain head."""

from __future__ import annotations

import logging

from celery import shared_task

from cases.kernel.audit.services import audit_anchor_all, audit_chain_verify
from cases.kernel.models import Agency

log = logging.getLogger(__name__)


@shared_task
def audit_chain_verify_all() -> list[dict[str, object]]:
    results: list[dict[str, object]] = []
    for agency in Agency.objects.all():
        report = audit_chain_verify(agency=agency)
        if not report.ok:
            log.error(
                "audit chain of agency %s broken at #%s: %s",
                agency.pk,
                report.broken_seq,
                report.reason,
            )
        results.append({"agency": agency.pk, "ok": report.ok, "checked": report.checked})
    return results


@shared_task
def audit_anchor_all_task() -> None:
    """The schedule's anchor of every agency's chain head (same as manage.py audit_anchor)."""
    audit_anchor_all(reason="schedule")
