"""Intake tasks: the bulk import job, and the polls of watched sources."""

from __future__ import annotations

from functools import partial

from celery import shared_task

from cases.intake.models import ImportJob
from cases.intake.services.imports import import_job_run
from cases.intake.services.source_polls import watched_source_poll, watched_sources_due
from cases.kernel.jobs import job_task_run


# acks_late + reject_on_worker_lost: a worker killed mid-import (out of memory, SIGKILL)
# gets the message back, and the run resumes after the last committed chunk.
@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=3)
def import_job_run_task(self, job_id: int) -> None:
    job_task_run(task=self, model=ImportJob, pk=job_id, run=partial(import_job_run, job_id=job_id))


@shared_task(acks_late=True, soft_time_limit=120, time_limit=150)
def watched_sources_poll_due_task() -> int:
    """Beat: queue a poll of every watched source that is due. Runs outside any
    transaction, so each poll is queued at once."""
    due = watched_sources_due()
    for source_id in due:
        watched_source_poll_task.delay(source_id=source_id)
    return len(due)


# Idempotent: a second delivery finds the source not due (or being polled) and skips it.
@shared_task(acks_late=True, soft_time_limit=420, time_limit=480)
def watched_source_poll_task(source_id: int) -> str:
    return watched_source_poll(source_id=source_id).status
