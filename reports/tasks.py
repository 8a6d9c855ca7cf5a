"""Celery tasks of the reports app (routed to the `reports` queue by module name): ids in,
one service call. Time limits come from settings; the memory cap is in the service."""

from __future__ import annotations

import logging

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.utils import timezone

log = logging.getLogger(__name__)


@shared_task(
    acks_late=True,
    soft_time_limit=settings.REPORTS_SOFT_TIME_LIMIT_S,
    time_limit=settings.REPORTS_TIME_LIMIT_S,
)
def dossier_build_task(dossier_id: int) -> None:
    from reports.models import Dossier, DossierStatus
    from reports.services import dossier_build

    try:
        dossier_build(dossier_id=dossier_id)
    except SoftTimeLimitExceeded:
        log.error("dossier #%s ran past its time limit", dossier_id)
        Dossier.objects.filter(pk=dossier_id, status=DossierStatus.RUNNING).update(
            status=DossierStatus.FAILED,
            error=f"ran past the time limit of {settings.REPORTS_SOFT_TIME_LIMIT_S} s",
            finished_at=timezone.now(),
        )
