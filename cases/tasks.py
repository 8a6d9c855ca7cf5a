"""Celery tasks: ids in, one service call, nothing else."""

from __future__ import annotations

import logging

from celery import shared_task

from cases.models import Agency
from cases.services.audit import audit_anchor_all, audit_chain_verify
from cases.services.imports import import_job_fail, import_job_run

log = logging.getLogger(__name__)


@shared_task(bind=True, acks_late=True, max_retries=3, default_retry_delay=10)
def import_job_run_task(self, job_id: int) -> None:  # type: ignore[no-untyped-def]
    try:
        import_job_run(job_id=job_id)
    except Exception as exc:
        if self.request.retries >= self.max_retries:
            import_job_fail(job_id=job_id, error=f"{type(exc).__name__}: {exc}")
            raise
        raise self.retry(exc=exc, countdown=10 * 2**self.request.retries) from exc


@shared_task
def audit_chain_verify_all() -> list[dict[str, object]]:
    results = []
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
