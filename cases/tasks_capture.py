"""Celery tasks of the capture queue (routed by CELERY_TASK_ROUTES): ids in, one service
call each. Capture work is idempotent (cases.services.captures), so the message is
acknowledged only after the task returns: a worker that dies mid-capture gets its
capture redelivered and redone."""

from __future__ import annotations

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from cases.services.captures import capture_fail, capture_run, recheck_due_findings

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
def capture_run_task(self, capture_id: int) -> None:  # type: ignore[no-untyped-def]
    try:
        capture_run(capture_id=capture_id)
    except SoftTimeLimitExceeded:
        capture_fail(
            capture_id=capture_id,
            error=f"The capture took longer than {SOFT_TIME_LIMIT_S} seconds and was stopped.",
        )
    except Exception as exc:
        # Network trouble is not an exception (the pipeline records it); what lands here is
        # a database or storage hiccup, worth a few retries with backoff.
        if self.request.retries >= self.max_retries:
            capture_fail(capture_id=capture_id, error=f"{type(exc).__name__}: {exc}")
            raise
        raise self.retry(exc=exc, countdown=15 * 2**self.request.retries) from exc


@shared_task(acks_late=True, soft_time_limit=120, time_limit=150)
def recheck_due_task() -> int:
    return len(recheck_due_findings())
