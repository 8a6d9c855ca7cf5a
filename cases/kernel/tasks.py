"""Scheduled kernel work on jobs: one sweep over every registered job type."""

from __future__ import annotations

from celery import shared_task

from cases.kernel.jobs import job_reap_all


@shared_task(acks_late=True, soft_time_limit=120, time_limit=150)
def job_reap_stale_task() -> dict[str, dict[str, int]]:
    """Requeue or fail jobs whose worker or message was lost (cases.kernel.jobs)."""
    return {
        label: {"requeued": len(report.requeued), "failed": len(report.failed)}
        for label, report in job_reap_all().items()
    }
