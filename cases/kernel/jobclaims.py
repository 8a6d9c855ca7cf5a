"""Which worker process runs a job (cases.kernel.models.JobClaim), for the job runner.

`job_task_run` binds the worker's node name (`task.request.hostname`) while a job task
runs; `job_claim` records the node and the pool process id with each claim. That tells
two things apart that look the same from the job's row (running, fresh heartbeat):

- a job whose process died on this node (SIGKILL of a pool child): its pid is gone, so
  the redelivered message resumes it at once;
- a job a live process on this node runs (a message published twice): the claim refuses
  it (JobBusy), so it does not run twice. Claimed on another node, a job's process cannot
  be checked from here: a type whose runs may overlap (`job_overlap_safe`) is resumed, as
  before, and any other waits for its stale heartbeat.

And after a whole-worker crash, the worker that starts again under the same node name
requeues the jobs claimed there before it started (cases.kernel.jobrecovery).
"""

from __future__ import annotations

import contextvars
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from cases.kernel.models import JobClaim

if TYPE_CHECKING:
    from django.db import models

_worker: contextvars.ContextVar[str] = contextvars.ContextVar("agencyguard_job_worker", default="")


@contextmanager
def worker_bound(node: str | None) -> Iterator[None]:
    """Bind the Celery node name of the worker running this task ("" when eager)."""
    token = _worker.set(node or "")
    try:
        yield
    finally:
        _worker.reset(token)


def worker_get() -> str:
    return _worker.get()


def _label(model: type[models.Model]) -> str:
    return model._meta.label


def claim_record(*, model: type[models.Model], pk: int, now: datetime) -> None:
    """Remember that this process (on the bound node) claimed the job. Outside a worker
    (eager tasks, tests calling the service) nothing is recorded."""
    node = worker_get()
    if not node:
        return
    JobClaim.objects.update_or_create(
        job_type=_label(model),
        job_id=pk,
        defaults={"worker": node[:255], "pid": os.getpid(), "claimed_at": now},
    )


def claim_get(*, model: type[models.Model], pk: int) -> JobClaim | None:
    return JobClaim.objects.filter(job_type=_label(model), job_id=pk).first()


def claims_forget(*, model: type[models.Model], pk: int) -> None:
    """The job ended (finished or failed): nobody runs it any more."""
    JobClaim.objects.filter(job_type=_label(model), job_id=pk).delete()


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (a zombie does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[:1] != ["Z"]


def claim_state(claim: JobClaim | None) -> str:
    """What is known about the process that claimed a running job, seen from here:
    "gone" (it ran on this node and its pid is dead, or it is this very process: one job
    task at a time per process, so an earlier run here ended without finishing the job),
    "alive" (on this node, its pid lives), or "unknown" (no claim recorded, not in a
    worker, or another node: its liveness cannot be checked from here)."""
    node = worker_get()
    if claim is None or not node or claim.worker != node[:255]:
        return "unknown"
    if claim.pid == os.getpid() or not pid_alive(claim.pid):
        return "gone"
    return "alive"
