"""Celery tasks of the reports app (routed to the `reports` queue by module name): ids in,
one service call through the one job runner (cases.kernel.jobs.job_task_run). Time limits
come from settings; the memory cap is in the service."""

from __future__ import annotations

from functools import partial

from celery import shared_task
from django.conf import settings

from cases.kernel.jobs import job_task_run
from reports.models import Dossier
from reports.services import dossier_build


# acks_late + reject_on_worker_lost: the message of a worker killed mid-build comes back,
# and the dossier is built again once its heartbeat is stale (at most three attempts).
@shared_task(
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=2,
    soft_time_limit=settings.REPORTS_SOFT_TIME_LIMIT_S,
    time_limit=settings.REPORTS_TIME_LIMIT_S,
)
def dossier_build_task(self, dossier_id: int) -> None:  # type: ignore[no-untyped-def]
    job_task_run(
        task=self, model=Dossier, pk=dossier_id, run=partial(dossier_build, dossier_id=dossier_id)
    )
