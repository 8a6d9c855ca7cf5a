"""Intake tasks: the bulk import job."""

from __future__ import annotations

from functools import partial

from celery import shared_task

from cases.intake.models import ImportJob
from cases.intake.services.imports import import_job_run
from cases.kernel.jobs import job_task_run


# acks_late + reject_on_worker_lost: a worker killed mid-import (out of memory, SIGKILL)
# gets the message back, and the run resumes after the last committed chunk.
@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=3)
def import_job_run_task(self, job_id: int) -> None:
    job_task_run(task=self, model=ImportJob, pk=job_id, run=partial(import_job_run, job_id=job_id))
