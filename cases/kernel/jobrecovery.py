"""Getting stuck jobs going again without waiting for their stale limit (docs/jobs.md).

- `job_requeue_for_worker`: a worker that starts (Celery's worker_ready) requeues the
  jobs its node name claimed before it started and that are still running: the worker
  was killed as a whole (SIGKILL, a crashed host or container), so nothing runs them, and
  their unacknowledged messages would come back only after the broker's visibility
  timeout. The node name must stay the same across restarts (`--hostname`).
- `job_resend_if_stale`: a person asks again for a job that is queued or running (Capture
  now): a running job whose heartbeat is stale is requeued, and a queued job whose message
  was sent longer than its stale limit ago (a wiped broker) is sent again. The claim makes
  a second message harmless (cases.kernel.jobclaims).
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.kernel.jobs import (
    Job,
    JobStatus,
    job_dispatch_pending,
    job_enqueue,
    job_locked,
    job_requeue_locked,
    job_stale_after,
    job_types,
)
from cases.kernel.models import JobClaim

log = logging.getLogger(__name__)


def job_requeue_for_worker(*, worker: str, started_at: datetime) -> dict[str, list[int]]:
    """Requeue (or fail, out of attempts) every job still running under a claim of this
    node made before `started_at`. Returns the requeued and failed job ids by type."""
    by_label = {model._meta.label: model for model in job_types()}
    done: dict[str, list[int]] = {"requeued": [], "failed": []}
    claims = JobClaim.objects.filter(worker=worker[:255], claimed_at__lt=started_at)
    for claim in list(claims.order_by("claimed_at")):
        model = by_label.get(claim.job_type)
        with transaction.atomic():
            job = job_locked(model, claim.job_id) if model is not None else None
            if job is None or job.status != JobStatus.RUNNING:
                JobClaim.objects.filter(pk=claim.pk).delete()
                continue
            requeued = job_requeue_locked(
                job,
                reason="worker restarted",
                step=_("Requeued: the worker restarted"),
                now=timezone.now(),
            )
            JobClaim.objects.filter(pk=claim.pk).delete()
        done["requeued" if requeued else "failed"].append(claim.job_id)
    if done["requeued"] or done["failed"]:
        log.warning(
            "worker %s restarted: requeued %s, failed %s job(s) it was running",
            worker,
            len(done["requeued"]),
            len(done["failed"]),
        )
    return done


def job_resend_if_stale(job: Job, *, now: datetime | None = None) -> bool:
    """Send an active job again when it is stuck (see the module docstring). Returns
    whether it was sent again; a job whose message waits in the outbox is not stuck: the
    sweep sends it when the broker is back."""
    now = now or timezone.now()
    model = type(job)
    limit = job_stale_after(model)
    with transaction.atomic():
        locked = job_locked(model, job.pk)
        if locked is None or locked.heartbeat_at >= now - limit:
            return False
        if locked.status == JobStatus.RUNNING:
            job_requeue_locked(
                locked, reason="requested again", step=_("Requeued: the worker stopped"), now=now
            )
        elif locked.status == JobStatus.QUEUED and not job_dispatch_pending(locked):
            locked.heartbeat_at = now
            locked.save(update_fields=["heartbeat_at"])
            job_enqueue(job=locked)
        else:
            return False
    for name in ("status", "heartbeat_at", "step", "error"):
        setattr(job, name, getattr(locked, name))
    return True
