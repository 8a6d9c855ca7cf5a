"""Celery tasks of the detection queue (routed by module: "detection.*"). Thin: ids in, one
service call through the one job runner (cases.kernel.jobs.job_task_run). The run row
carries status and progress, so nothing needs a result backend."""

from __future__ import annotations

from functools import partial

from celery import shared_task

from cases.kernel.jobs import job_task_run
from detection.models import DetectionRun
from detection.services.analysis import detection_run_execute


# acks_late + reject_on_worker_lost: the message of a worker killed mid-run comes back; the
# redelivered task finds the run still running and waits for it to go stale, and the job
# runner then fails it (DetectionRun.job_max_attempts is 1), as the sweep would.
@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=2)
def detection_run_task(self, run_id: int) -> None:
    job_task_run(
        task=self, model=DetectionRun, pk=run_id, run=partial(detection_run_execute, run_id=run_id)
    )
