"""Intake tasks: the bulk import job."""

from __future__ import annotations

from celery import shared_task

from cases.intake.services.imports import import_job_fail, import_job_run


@shared_task(bind=True, acks_late=True, max_retries=3, default_retry_delay=10)
def import_job_run_task(self, job_id: int) -> None:  # type: ignore[no-untyped-def]
    try:
        import_job_run(job_id=job_id)
    except Exception as exc:
        if self.request.retries >= self.max_retries:
            import_job_fail(job_id=job_id, error=f"{type(exc).__name__}: {exc}")
            raise
        raise self.retry(exc=exc, countdown=10 * 2**self.request.retries) from exc
