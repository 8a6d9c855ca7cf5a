"""Celery tasks of the capture queue (routed by CELERY_TASK_ROUTES): ids in, one service
call each. Capture work is idempotent (cases.evidence.services.captures), so the message is
acknowledged only after the task returns: a worker that dies mid-capture gets its
capture redelivered and redone."""

from __future__ import annotations

import logging
from functools import partial

from celery import shared_task

from cases.evidence.models import Capture, Evidence
from cases.evidence.services.captures import capture_run, recheck_due_findings
from cases.kernel.jobs import job_task_run

# A page visit is capped at about a minute, the browser at 90 s and media by size: five
# minutes is generous, and the hard limit leaves the soft one time to record the failure.
SOFT_TIME_LIMIT_S = 300


TIME_LIMIT_S = 330


MAX_RETRIES = 3


@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=SOFT_TIME_LIMIT_S,
    time_limit=TIME_LIMIT_S,
    max_retries=MAX_RETRIES,
)
def capture_run_task(self, capture_id: int) -> None:
    # Network trouble is not an exception (the pipeline records it); what raises is a
    # database or storage hiccup, worth a few retries with backoff (job_task_run).
    job_task_run(
        task=self,
        model=Capture,
        pk=capture_id,
        run=partial(capture_run, capture_id=capture_id),
        retry_backoff_s=15,
    )


@shared_task(acks_late=True, soft_time_limit=120, time_limit=150)
def recheck_due_task() -> int:
    return len(recheck_due_findings())


log = logging.getLogger(__name__)


@shared_task(acks_late=True, max_retries=3, default_retry_delay=30)
def evidence_preview_build(evidence_id: int) -> None:
    """Build the blurred preview ahead of the first page view (idempotent: cached by hash)."""
    from cases.evidence.previews import blurred_preview  # task wiring (previews → tasks)

    evidence = Evidence.objects.filter(pk=evidence_id).first()
    if evidence is not None:
        blurred_preview(evidence)


@shared_task(acks_late=True)
def evidence_verify_all() -> dict[str, object]:
    """The scheduled integrity check: re-hash every original, one audit event per agency."""
    from cases.evidence.services.evidence import evidence_verify_all as verify  # task wiring

    report = verify()
    for problem in report.problems:
        log.error(
            "evidence #%s of agency %s is %s: %s",
            problem.evidence_id,
            problem.agency_id,
            problem.problem,
            problem.detail,
        )
    return {"rows": report.rows, "blobs": report.blobs, "problems": len(report.problems)}
