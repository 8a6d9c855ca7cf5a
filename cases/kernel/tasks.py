"""Scheduled kernel work: the outbox sweep and one sweep over every registered job type;
and what a worker does when it starts (publish what waits in the outbox, requeue the jobs
it was running when it was killed)."""

from __future__ import annotations

import logging
from typing import Any

from celery import shared_task
from celery.signals import worker_init, worker_ready
from django.db import connections
from django.utils import timezone

from cases.kernel.jobrecovery import job_requeue_for_worker
from cases.kernel.jobs import job_reap_all
from cases.kernel.outbox import outbox_sweep

log = logging.getLogger(__name__)
_started: dict[str, Any] = {}


@shared_task(acks_late=True, soft_time_limit=120, time_limit=150)
def job_reap_stale_task() -> dict[str, dict[str, int]]:
    """Requeue or fail jobs whose worker or message was lost (cases.kernel.jobs)."""
    return {
        label: {"requeued": len(report.requeued), "failed": len(report.failed)}
        for label, report in job_reap_all().items()
    }


@shared_task(soft_time_limit=60, time_limit=90)
def outbox_sweep_task() -> dict[str, int | str]:
    """Publish the outbox's unsent messages, prune old sent ones (cases.kernel.outbox)."""
    report = outbox_sweep()
    return {"sent": report.sent, "pruned": report.pruned, "error": report.error}


@worker_init.connect
def _worker_init(sender: Any = None, **kwargs: Any) -> None:
    # Before the pool starts: claims older than this belong to the previous run.
    _started["at"] = timezone.now()


@worker_ready.connect
def _worker_ready(sender: Any = None, **kwargs: Any) -> None:
    """The worker is up: requeue what this node ran when it died, and publish the outbox
    (never let a broken database stop the worker from starting)."""
    hostname = getattr(sender, "hostname", "") or ""
    try:
        if hostname:
            job_requeue_for_worker(worker=hostname, started_at=_started.get("at", timezone.now()))
        outbox_sweep()
    except Exception:
        log.exception("worker start: requeue or outbox sweep failed")
    finally:
        # A pool child forked later must not inherit this process's connection.
        connections.close_all()
