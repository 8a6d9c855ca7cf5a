"""Celery tasks of the detection queue (routed by module: "detection.*"). Thin: ids in, one
service call. The run row carries status and progress, so nothing needs a result backend."""

from __future__ import annotations

from celery import shared_task

from detection.services import detection_run_execute, detection_run_fail_stale


@shared_task(acks_late=True, reject_on_worker_lost=False)
def detection_run_task(run_id: int) -> None:
    """Execute one run. Safe to deliver twice (acks_late): a finished run is not re-run.
    A worker killed mid-run (out of memory on a hostile file) is not redelivered forever:
    detection_fail_stale_task marks such runs failed."""
    detection_run_execute(run_id=run_id)


@shared_task
def detection_fail_stale_task() -> int:
    return detection_run_fail_stale()
