"""One job runner for every background job: captures, detection runs, dossiers, imports.

A job is a row (a model inheriting `Job`) that a Celery task works on. Its lifecycle is the
same for every type, and only the services below change it:

    queued --job_claim--> running --job_finish--> done (or a type's other end status)
                             |  \\--job_fail--> failed --job_retry--> queued
                             |
                             `--(worker lost, heartbeat stale)--> job_claim resumes it, or
                                job_reap_stale requeues it (attempts left) or fails it

- `job_claim` locks the row (select_for_update) and takes a queued job, or resumes a
  running one whose heartbeat is older than the type's stale limit (its worker is gone);
  each claim counts one attempt, and a running job out of attempts is failed instead. A
  running job with a fresh heartbeat belongs to a live worker: the claim raises `JobBusy`
  and the task comes back when it would be stale, unless the type is `job_overlap_safe`
  (imports, captures: two runs at once are harmless), which resumes it at once.
- `job_progress` is the heartbeat: progress is clamped to 0..99 while the job works, and
  only `job_finish` writes 100 (the worker reached the end, whatever the outcome).
- `job_reap_stale` (beat: `cases.kernel.tasks.job_reap_stale_task`, every registered type):
  a running job silent for longer than its type's limit is requeued when it has attempts
  left and failed when not (so a file that kills every worker stops after a few tries); a
  queued job that waited longer than `job_queued_stale_after` lost its message: failed.
- `job_release`: the task raised and Celery will retry it: running -> queued at once.
- `job_retry` (a person's decision) moves a failed job back to queued with a fresh attempt
  budget and enqueues it through the outbox (sent when the transaction commits).
Each of fail, requeue and retry writes an audit event `<job_audit_prefix>.<verb>`.

A type says how it is run with class attributes (`job_task`, `job_stale_after_setting`,
...). See docs/jobs.md.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from django.apps import apps
from django.conf import settings
from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.kernel.actor import Actor
from cases.kernel.audit.services import audit_record
from cases.kernel.jobclaims import (
    claim_get,
    claim_record,
    claim_state,
    claims_forget,
    worker_bound,
)
from cases.kernel.outbox import outbox_enqueue, outbox_pending

if TYPE_CHECKING:
    from celery import Task

    from cases.kernel.models import Agency

log = logging.getLogger(__name__)


# While a job works its progress stays below 100; 100 means the worker reached the end.
PROGRESS_WORKING_MAX = 99
PROGRESS_DONE = 100
ERROR_MAX_CHARS = 2000


class JobStatus(models.TextChoices):
    """The common lifecycle. A type may add end statuses (a capture's "refused", a
    detection run's "no_faces"): it lists them in `job_finished_statuses`."""

    QUEUED = "queued", gettext_lazy("Queued")
    RUNNING = "running", gettext_lazy("Running")
    DONE = "done", gettext_lazy("Done")
    FAILED = "failed", gettext_lazy("Failed")


class Job(models.Model):
    """The columns every background job has. Concrete types keep their own table, their
    own status choices (a superset of JobStatus) and an `agency` foreign key."""

    status = models.CharField(
        gettext_lazy("status"), max_length=16, choices=JobStatus.choices, default=JobStatus.QUEUED
    )
    progress = models.PositiveSmallIntegerField(gettext_lazy("progress"), default=0)
    step = models.CharField(gettext_lazy("current step"), max_length=200, blank=True)
    # Claims so far (a redelivered or resumed run is one more); reset by a retry.
    attempts = models.PositiveSmallIntegerField(gettext_lazy("attempts"), default=0)
    error = models.TextField(gettext_lazy("error"), blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # The last sign of life: set when the job is queued, claimed or makes progress. A
    # running job silent for longer than its type's stale limit has lost its worker.
    heartbeat_at = models.DateTimeField(gettext_lazy("last heartbeat"), default=timezone.now)

    # --- what each type says about itself -------------------------------------------
    # Audit actions are "<prefix>.failed", "<prefix>.requeued", "<prefix>.retried".
    job_audit_prefix: ClassVar[str] = "job"
    # Dotted path of the Celery task that runs one job, and its keyword for the job's id.
    job_task: ClassVar[str] = ""
    job_task_arg: ClassVar[str] = "job_id"
    # Name of the setting (a timedelta) after which a silent running job is stale.
    job_stale_after_setting: ClassVar[str] = "JOB_STALE_AFTER"
    # A queued job older than this lost its message.
    job_queued_stale_after: ClassVar[timedelta] = timedelta(hours=24)
    # Claims allowed before a job that keeps losing its worker is failed.
    job_max_attempts: ClassVar[int] = 3
    job_finished_statuses: ClassVar[tuple[str, ...]] = (JobStatus.DONE, JobStatus.FAILED)
    job_retryable_statuses: ClassVar[tuple[str, ...]] = (JobStatus.FAILED,)
    # True when two runs of one job at once are harmless (each step is taken and recorded
    # under the row lock: an import's chunks, a capture's final record). Then a running
    # job is claimed again at once, without waiting for a stale heartbeat: the redelivered
    # message of a killed worker resumes it immediately.
    job_overlap_safe: ClassVar[bool] = False

    class Meta:
        abstract = True

    def job_agency(self) -> Agency:
        return self.agency  # type: ignore[attr-defined,no-any-return]

    def job_audit_context(self) -> dict[str, Any]:
        """Extra data for this job's audit events (a capture names its finding)."""
        return {}

    @property
    def is_finished(self) -> bool:
        return self.status in self.job_finished_statuses

    @property
    def is_retryable(self) -> bool:
        return self.status in self.job_retryable_statuses


J = TypeVar("J", bound=Job)

LIFECYCLE_FIELDS = (
    "status",
    "progress",
    "step",
    "attempts",
    "error",
    "started_at",
    "finished_at",
    "heartbeat_at",
)


class JobBusy(Exception):
    """The job runs under a live worker (fresh heartbeat). Come back in `retry_in`."""

    def __init__(self, *, label: str, retry_in: timedelta) -> None:
        super().__init__(f"{label} is running under another worker")
        self.retry_in = retry_in


class JobNotRetryable(ValueError):
    """Only a job in one of its type's retryable statuses (failed) can be retried."""


# --- type helpers --------------------------------------------------------------------


def job_types() -> list[type[Job]]:
    """Every installed concrete job model: what the sweep reaps."""
    return [m for m in apps.get_models() if issubclass(m, Job)]


def job_stale_after(model: type[Job]) -> timedelta:
    value = getattr(settings, model.job_stale_after_setting, None)
    if not isinstance(value, timedelta):
        raise TypeError(f"settings.{model.job_stale_after_setting} must be a timedelta")
    return value


def job_is_stale(*, job: Job, now: datetime | None = None) -> bool:
    """Whether a running job lost its worker, or a queued one its message."""
    now = now or timezone.now()
    if job.status == JobStatus.RUNNING:
        return job.heartbeat_at < now - job_stale_after(type(job))
    if job.status == JobStatus.QUEUED:
        return job.heartbeat_at < now - type(job).job_queued_stale_after
    return False


def _label(job: Job) -> str:
    return f"{type(job).__name__} #{job.pk}"


def progress_clamp(percent: float) -> int:
    """The one clamping rule: 0..99 while working; 100 only through job_finish."""
    return max(0, min(int(percent), PROGRESS_WORKING_MAX))


def job_locked(model: type[J], pk: int, related: Sequence[str] = ()) -> J | None:
    query = model._default_manager.select_for_update(of=("self",))
    if related:
        query = query.select_related(*related)
    return query.filter(pk=pk).first()


def job_enqueue(*, job: Job, countdown: int | None = None) -> None:
    """Queue the job's task through the outbox, in the caller's transaction: it is sent
    when the transaction commits, or by the outbox sweep when the broker was down."""
    model = type(job)
    outbox_enqueue(model.job_task, countdown=countdown, **{model.job_task_arg: job.pk})


def job_dispatch_pending(job: Job) -> bool:
    """Whether the job's message waits in the outbox, unsent (the broker was unreachable):
    the page says it starts when the workers are reachable."""
    model = type(job)
    return outbox_pending(model.job_task, **{model.job_task_arg: job.pk})


def _audit(job: Job, *, verb: str, actor: Actor, data: dict[str, Any]) -> None:
    audit_record(
        agency=job.job_agency(),
        actor=actor,
        action=f"{type(job).job_audit_prefix}.{verb}",
        obj=job,
        data={**job.job_audit_context(), **data},
    )


# --- the lifecycle -------------------------------------------------------------------


def job_claim(
    *,
    model: type[J],
    pk: int,
    step: str = "",
    related: Sequence[str] = (),
    now: datetime | None = None,
) -> J | None:
    """Take a job for this worker: queued -> running, or resume a running job whose worker
    is gone (stale heartbeat, or its process on this node died; see cases.kernel.jobclaims).
    One more attempt either way. Returns None when the job does not exist or is finished
    (a redelivered or duplicate message), and fails a running job that used all its attempts (a job that kills its
    worker every time). Raises JobBusy while a live worker runs it."""
    now = now or timezone.now()
    with transaction.atomic():
        job = job_locked(model, pk, related)
        if job is None or job.is_finished:
            return None
        if job.status == JobStatus.RUNNING:
            stale_at = job.heartbeat_at + job_stale_after(model)
            # Resumed at once when its process is known to be dead, or for a type whose
            # runs may overlap when it is not known to be alive (cases.kernel.jobclaims).
            state = claim_state(claim_get(model=model, pk=pk))
            at_once = state == "gone" or (model.job_overlap_safe and state == "unknown")
            if stale_at > now and not at_once:
                raise JobBusy(label=_label(job), retry_in=stale_at - now)
            if job.attempts >= model.job_max_attempts:
                _fail_locked(job, error=_worker_lost_message(job), actor=None, now=now)
                return None
        elif job.status != JobStatus.QUEUED:
            return None
        job.status = JobStatus.RUNNING
        job.attempts += 1
        job.started_at = job.started_at or now
        job.heartbeat_at = now
        job.step = step[:200]
        job.save(update_fields=["status", "attempts", "started_at", "heartbeat_at", "step"])
        claim_record(model=model, pk=pk, now=now)
    return job


def job_progress(
    *, job: Job, percent: float, step: str | None = None, fields: Iterable[str] = ()
) -> None:
    """Record progress and a heartbeat. Outside a transaction it commits at once (the UI
    polls it); inside one (a chunk's) it commits with the chunk. A job that is no longer
    running (failed or requeued meanwhile) is left alone. `fields`: more of the job's
    fields to save in the same statement (a chunk's checkpoint)."""
    now = timezone.now()
    job.progress, job.heartbeat_at = progress_clamp(percent), now
    update: dict[str, Any] = {name: getattr(job, name) for name in fields}
    update.update(progress=job.progress, heartbeat_at=now)
    if step is not None:
        job.step = step[:200]
        update["step"] = job.step
    type(job)._default_manager.filter(pk=job.pk, status=JobStatus.RUNNING).update(**update)


def job_finish(
    *,
    job: J,
    status: str = JobStatus.DONE,
    step: str = "",
    error: str = "",
    update_fields: Iterable[str] = (),
) -> J:
    """Close a job its worker ran to the end, saving the lifecycle columns and the type's
    `update_fields` in the caller's transaction (which should hold the row lock)."""
    if status not in type(job).job_finished_statuses:
        raise ValueError(f"{status!r} is not an end status of {type(job).__name__}")
    now = timezone.now()
    job.status, job.progress, job.step = status, PROGRESS_DONE, step[:200]
    job.error = error[:ERROR_MAX_CHARS]
    job.finished_at = job.heartbeat_at = now
    job.save(update_fields=sorted({*LIFECYCLE_FIELDS, *update_fields}))
    claims_forget(model=type(job), pk=job.pk)
    return job


def _fail_locked(job: Job, *, error: str, actor: Actor, now: datetime) -> None:
    job.status, job.error = JobStatus.FAILED, error[:ERROR_MAX_CHARS]
    job.finished_at = job.heartbeat_at = now
    job.save(update_fields=["status", "error", "finished_at", "heartbeat_at"])
    claims_forget(model=type(job), pk=job.pk)
    _audit(job, verb="failed", actor=actor, data={"error": error[:500], "attempts": job.attempts})


def job_fail(
    *, model: type[J], pk: int, error: str, actor: Actor = None, now: datetime | None = None
) -> J | None:
    """Fail a job that did not reach its end (its task gave up, its time ran out, its
    worker was lost too often). Progress stays where it stopped. A finished job is left
    alone (None)."""
    with transaction.atomic():
        job = job_locked(model, pk)
        if job is None or job.is_finished:
            return None
        _fail_locked(job, error=error, actor=actor, now=now or timezone.now())
    return job


def job_release(*, model: type[Job], pk: int) -> bool:
    """Hand a running job back to the queue because this worker stopped working on it (its
    task raised and will be retried): the retry claims it at once instead of waiting for
    the heartbeat to go stale. Returns whether it was running."""
    released = model._default_manager.filter(pk=pk, status=JobStatus.RUNNING).update(
        status=JobStatus.QUEUED, heartbeat_at=timezone.now(), step=_("Waiting to retry")
    )
    return bool(released)


def _worker_lost_message(job: Job) -> str:
    return _(
        "The worker stopped %(n)s time(s) before the job finished; it was not tried again. "
        "Retry it if the cause is fixed."
    ) % {"n": job.attempts}


def job_requeue_locked(job: Job, *, reason: str, step: str, now: datetime) -> bool:
    """A running job lost its worker (the caller holds its row lock): back to queued and
    sent again through the outbox while it has attempts left (True), failed when not."""
    if job.attempts >= type(job).job_max_attempts:
        _fail_locked(job, error=_worker_lost_message(job), actor=None, now=now)
        return False
    job.status, job.heartbeat_at, job.step = JobStatus.QUEUED, now, step[:200]
    job.save(update_fields=["status", "heartbeat_at", "step"])
    _audit(job, verb="requeued", actor=None, data={"reason": reason, "attempts": job.attempts})
    job_enqueue(job=job)
    return True


@dataclass
class ReapReport:
    """What one sweep did, by job id."""

    requeued: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.requeued or self.failed)


def job_reap_stale(
    *, model: type[Job], now: datetime | None = None, limit: int = 500
) -> ReapReport:
    """Sweep one type: a running job silent for longer than its stale limit is requeued
    (attempts left) or failed (none left); a queued job older than job_queued_stale_after
    is failed. Each row is re-checked under its lock, so a job that woke up is spared."""
    now = now or timezone.now()
    stale = model._default_manager.filter(
        models.Q(status=JobStatus.RUNNING, heartbeat_at__lt=now - job_stale_after(model))
        | models.Q(status=JobStatus.QUEUED, heartbeat_at__lt=now - model.job_queued_stale_after)
    ).order_by("heartbeat_at")
    report = ReapReport()
    for pk in list(stale.values_list("pk", flat=True)[:limit]):
        with transaction.atomic():
            job = job_locked(model, pk)
            if job is None or not job_is_stale(job=job, now=now):
                continue
            if job.status == JobStatus.QUEUED:
                if job_dispatch_pending(job):
                    continue  # not lost: the broker was down, the outbox sweep sends it
                error = _(
                    "The job waited in the queue for more than %(hours)s hours and never "
                    "started (its message was lost). Retry it."
                ) % {"hours": int(model.job_queued_stale_after.total_seconds() // 3600)}
                _fail_locked(job, error=error, actor=None, now=now)
                report.failed.append(pk)
            elif job_requeue_locked(
                job, reason="stale heartbeat", step=_("Requeued: the worker stopped"), now=now
            ):
                report.requeued.append(pk)
            else:
                report.failed.append(pk)
    if report:
        log.warning(
            "%s: requeued %s, failed %s stale job(s)",
            model.__name__,
            len(report.requeued),
            len(report.failed),
        )
    return report


def job_reap_all(*, now: datetime | None = None) -> dict[str, ReapReport]:
    """Sweep every registered job type (the beat's one entry)."""
    return {model._meta.label: job_reap_stale(model=model, now=now) for model in job_types()}


def job_retry(*, job: J, actor: Actor) -> J:
    """A person asks for a failed job to run again: back to queued with a fresh attempt
    budget, audited, enqueued through the outbox. The caller checks that `actor` may write."""
    model = type(job)
    with transaction.atomic():
        locked = job_locked(model, job.pk)
        if locked is None or not locked.is_retryable:
            raise JobNotRetryable(_("Only a failed job can be retried."))
        previous = {"error": locked.error[:500], "attempts": locked.attempts}
        locked.status, locked.error, locked.step = JobStatus.QUEUED, "", ""
        locked.attempts, locked.finished_at = 0, None
        locked.heartbeat_at = timezone.now()
        locked.save(
            update_fields=["status", "error", "step", "attempts", "finished_at", "heartbeat_at"]
        )
        _audit(locked, verb="retried", actor=actor, data=previous)
        job_enqueue(job=locked)
    for name in ("status", "error", "step", "attempts", "finished_at", "heartbeat_at"):
        setattr(job, name, getattr(locked, name))
    return job


# --- the task side -------------------------------------------------------------------


def job_task_run(
    *,
    task: Task[Any, Any],
    model: type[Job],
    pk: int,
    run: Callable[[], object],
    retry_backoff_s: int = 10,
) -> None:
    """The body of every job task (NetBox's JobRunner.handle, as a function): run the
    service, and decide what a failure means.

    - JobBusy (a live worker has the job): send this task again for when the job would be
      stale, and acknowledge this message. A duplicate delivery thus ends as a no-op, and
      the redelivery of a killed worker's message resumes the job.
    - SoftTimeLimitExceeded: the job failed, saying so.
    - any other exception: the job is released (back to queued) and Celery retries with
      backoff; after the last try the job fails.
    Tasks using it are declared acks_late=True, reject_on_worker_lost=True."""
    from celery.exceptions import SoftTimeLimitExceeded

    try:
        with worker_bound(getattr(task.request, "hostname", None)):
            run()
    except JobBusy as busy:
        if task.request.is_eager:
            log.warning("%s; an eager task is not sent again", busy)
            return
        countdown = max(1, int(busy.retry_in.total_seconds()) + 1)
        outbox_enqueue(task.name, countdown=countdown, **{model.job_task_arg: pk})
    except SoftTimeLimitExceeded:
        job_fail(
            model=model,
            pk=pk,
            error=_("The job took longer than %(s)s seconds and was stopped.")
            % {"s": task.soft_time_limit or task.app.conf.task_soft_time_limit},
        )
    except Exception as exc:
        if task.request.retries >= (task.max_retries or 0):
            job_fail(model=model, pk=pk, error=f"{type(exc).__name__}: {exc}")
            raise
        job_release(model=model, pk=pk)
        raise task.retry(exc=exc, countdown=retry_backoff_s * 2**task.request.retries) from exc
