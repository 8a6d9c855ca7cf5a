"""The one job runner (cases.kernel.jobs), on the import job as a concrete job type: claim,
progress, finish, fail, the stale sweep, retry and the task wrapper."""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from celery.exceptions import Retry, SoftTimeLimitExceeded
from django.utils import timezone

from cases.evidence.models import Capture
from cases.intake.models import ImportJob
from cases.kernel import jobs
from cases.kernel.jobs import (
    JobBusy,
    JobNotRetryable,
    JobStatus,
    job_claim,
    job_fail,
    job_finish,
    job_progress,
    job_reap_all,
    job_reap_stale,
    job_retry,
    job_task_run,
    job_types,
    progress_clamp,
)
from cases.kernel.models import AuditEvent, OutboxMessage

pytestmark = pytest.mark.django_db

STALE = timedelta(minutes=2)


@pytest.fixture(autouse=True)
def _import_stale_after(settings):  # type: ignore[no-untyped-def]
    settings.IMPORT_STALE_AFTER = STALE


@pytest.fixture(autouse=True)
def _one_run_at_a_time(monkeypatch):  # type: ignore[no-untyped-def]
    """Imports may overlap (job_overlap_safe); these tests are about the default."""
    monkeypatch.setattr(ImportJob, "job_overlap_safe", False)


@pytest.fixture
def enqueued(monkeypatch):  # type: ignore[no-untyped-def]
    """Job ids sent to their task (after commit), instead of running them."""
    sent: list[int] = []
    monkeypatch.setattr(jobs, "job_enqueue", lambda *, job: sent.append(job.pk))
    return sent


def make_job(agency, user, **fields) -> ImportJob:  # type: ignore[no-untyped-def]
    return ImportJob.objects.create(
        agency=agency, created_by=user, payload="https://a.example/1", total_rows=1, **fields
    )


def audit_actions(agency) -> list[str]:  # type: ignore[no-untyped-def]
    """The job events (not the agency's or its members' creation)."""
    events = AuditEvent.objects.filter(agency=agency, action__regex=r"^(import|capture)\.")
    return list(events.order_by("seq").values_list("action", flat=True))


def test_claim_takes_a_queued_job_and_counts_the_attempt(agency, bob) -> None:
    job = make_job(agency, bob)
    claimed = job_claim(model=ImportJob, pk=job.pk, step="starting")
    assert claimed is not None
    job.refresh_from_db()
    assert (job.status, job.attempts, job.step) == (JobStatus.RUNNING, 1, "starting")
    assert job.started_at is not None and job.heartbeat_at == job.started_at


def test_claim_of_a_finished_or_missing_job_is_none(agency, bob) -> None:
    done = make_job(agency, bob, status=JobStatus.DONE)
    assert job_claim(model=ImportJob, pk=done.pk) is None
    assert job_claim(model=ImportJob, pk=done.pk + 1000) is None
    done.refresh_from_db()
    assert done.attempts == 0


def test_claim_of_a_job_a_live_worker_runs_says_when_to_come_back(agency, bob) -> None:
    job = make_job(agency, bob)
    job_claim(model=ImportJob, pk=job.pk)
    with pytest.raises(JobBusy) as busy:
        job_claim(model=ImportJob, pk=job.pk)
    assert timedelta(seconds=STALE.total_seconds() - 5) < busy.value.retry_in <= STALE
    job.refresh_from_db()
    assert job.attempts == 1


def test_claim_resumes_a_running_job_whose_worker_is_gone(agency, bob) -> None:
    job = make_job(agency, bob)
    job_claim(model=ImportJob, pk=job.pk)
    later = timezone.now() + STALE + timedelta(seconds=1)
    resumed = job_claim(model=ImportJob, pk=job.pk, now=later)
    assert resumed is not None and resumed.attempts == 2 and resumed.heartbeat_at == later


def test_claim_of_an_overlap_safe_type_resumes_a_running_job_at_once(
    agency, bob, monkeypatch
) -> None:
    monkeypatch.setattr(ImportJob, "job_overlap_safe", True)
    job = make_job(agency, bob)
    job_claim(model=ImportJob, pk=job.pk)
    again = job_claim(model=ImportJob, pk=job.pk)  # the redelivered message of a killed worker
    assert again is not None and again.attempts == 2 and again.status == JobStatus.RUNNING


def test_claim_fails_a_job_that_lost_its_worker_on_every_attempt(agency, bob) -> None:
    job = make_job(agency, bob, status=JobStatus.RUNNING, attempts=ImportJob.job_max_attempts)
    later = timezone.now() + STALE + timedelta(seconds=1)
    assert job_claim(model=ImportJob, pk=job.pk, now=later) is None
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert "stopped 3 time(s)" in job.error
    assert audit_actions(agency) == ["import.failed"]


def test_progress_is_clamped_below_100_and_only_finish_writes_100(agency, bob) -> None:
    job = job_claim(model=ImportJob, pk=make_job(agency, bob).pk)
    assert job is not None
    assert [progress_clamp(p) for p in (-5, 0, 42.9, 99, 100, 250)] == [0, 0, 42, 99, 99, 99]
    job_progress(job=job, percent=250, step="almost")
    job.refresh_from_db()
    assert (job.progress, job.step) == (99, "almost")
    job_finish(job=job)
    job.refresh_from_db()
    assert (job.status, job.progress) == (JobStatus.DONE, 100) and job.finished_at is not None


def test_progress_of_a_job_no_longer_running_changes_nothing(agency, bob) -> None:
    job = make_job(agency, bob, status=JobStatus.FAILED, progress=30)
    job_progress(job=job, percent=80)
    job.refresh_from_db()
    assert job.progress == 30


def test_finish_refuses_a_status_that_does_not_end_the_job(agency, bob) -> None:
    job = make_job(agency, bob)
    with pytest.raises(ValueError):
        job_finish(job=job, status=JobStatus.RUNNING)
    with pytest.raises(ValueError):
        job_finish(job=job, status="refused")  # a capture's end status, not an import's


def test_fail_keeps_progress_where_it_stopped_and_audits(agency, bob) -> None:
    job = make_job(agency, bob, status=JobStatus.RUNNING, progress=40, attempts=1)
    failed = job_fail(model=ImportJob, pk=job.pk, error="DatabaseError: gone")
    assert failed is not None
    job.refresh_from_db()
    assert (job.status, job.progress, job.error) == (JobStatus.FAILED, 40, "DatabaseError: gone")
    event = AuditEvent.objects.get(agency=agency, action="import.failed")
    assert event.data["error"] == "DatabaseError: gone" and event.data["attempts"] == 1


def test_fail_leaves_a_finished_job_alone(agency, bob) -> None:
    job = make_job(agency, bob, status=JobStatus.DONE, progress=100)
    assert job_fail(model=ImportJob, pk=job.pk, error="late") is None
    job.refresh_from_db()
    assert (job.status, job.error) == (JobStatus.DONE, "")
    assert audit_actions(agency) == []


def test_reap_requeues_a_silent_job_with_attempts_left(
    agency, bob, enqueued, django_capture_on_commit_callbacks
) -> None:
    job = make_job(agency, bob, status=JobStatus.RUNNING, attempts=1)
    with django_capture_on_commit_callbacks(execute=True):
        report = job_reap_stale(model=ImportJob, now=timezone.now() + STALE + timedelta(seconds=1))
    assert report.requeued == [job.pk] and report.failed == []
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED and job.attempts == 1
    assert enqueued == [job.pk]
    assert audit_actions(agency) == ["import.requeued"]


def test_reap_fails_a_silent_job_without_attempts_left(agency, bob, enqueued) -> None:
    job = make_job(agency, bob, status=JobStatus.RUNNING, attempts=3)
    report = job_reap_stale(model=ImportJob, now=timezone.now() + STALE + timedelta(seconds=1))
    assert report.failed == [job.pk]
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "not tried again" in job.error
    assert enqueued == []


def test_reap_fails_a_job_queued_for_more_than_a_day(agency, bob) -> None:
    job = make_job(agency, bob)
    assert not job_reap_stale(model=ImportJob, now=timezone.now() + timedelta(hours=23))
    report = job_reap_stale(model=ImportJob, now=timezone.now() + timedelta(hours=25))
    assert report.failed == [job.pk]
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "never started" in job.error


def test_reap_spares_a_job_with_a_fresh_heartbeat(agency, bob) -> None:
    job = make_job(agency, bob, status=JobStatus.RUNNING, attempts=1)
    assert not job_reap_stale(model=ImportJob, now=timezone.now() + STALE - timedelta(seconds=5))
    job.refresh_from_db()
    assert job.status == JobStatus.RUNNING


def test_every_job_type_is_registered_for_the_sweep(agency, bob) -> None:
    assert {ImportJob, Capture} <= set(job_types())
    make_job(agency, bob, status=JobStatus.RUNNING, attempts=3)
    reports = job_reap_all(now=timezone.now() + timedelta(days=2))
    assert len(reports["cases.ImportJob"].failed) == 1
    assert "cases.Capture" in reports


def test_retry_queues_a_failed_job_again_after_commit(
    agency, bob, enqueued, django_capture_on_commit_callbacks
) -> None:
    job = make_job(agency, bob, status=JobStatus.FAILED, attempts=3, error="boom", progress=40)
    with django_capture_on_commit_callbacks(execute=True):
        job_retry(job=job, actor=bob)
    assert (job.status, job.attempts, job.error) == (JobStatus.QUEUED, 0, "")
    job.refresh_from_db()
    assert (job.status, job.attempts, job.finished_at) == (JobStatus.QUEUED, 0, None)
    assert enqueued == [job.pk]
    event = AuditEvent.objects.get(agency=agency, action="import.retried")
    assert event.actor_id == bob.pk and event.data == {"error": "boom", "attempts": 3}


@pytest.mark.parametrize("status", [JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.DONE])
def test_only_a_failed_job_can_be_retried(agency, bob, enqueued, status) -> None:
    job = make_job(agency, bob, status=status)
    with pytest.raises(JobNotRetryable):
        job_retry(job=job, actor=bob)
    assert enqueued == [] and audit_actions(agency) == []


class FakeTask:
    """The parts of a bound Celery task that job_task_run uses."""

    max_retries = 2
    soft_time_limit = 60
    name = "cases.intake.tasks.import_job_run_task"

    def __init__(self, retries: int = 0, is_eager: bool = False) -> None:
        self.request = SimpleNamespace(retries=retries, is_eager=is_eager)
        self.sent: list[tuple[dict[str, int], int]] = []
        self.app = SimpleNamespace(conf=SimpleNamespace(task_soft_time_limit=600))

    def apply_async(self, *, kwargs: dict[str, int], countdown: int) -> None:
        self.sent.append((kwargs, countdown))

    def retry(self, *, exc: Exception, countdown: int) -> Retry:
        self.sent.append(({"retry": 1}, countdown))
        return Retry(exc=exc)


def test_task_run_sends_a_busy_job_again_for_when_it_would_be_stale(agency, bob) -> None:
    job = make_job(agency, bob)
    job_claim(model=ImportJob, pk=job.pk)
    task = FakeTask()
    job_task_run(
        task=task, model=ImportJob, pk=job.pk, run=lambda: job_claim(model=ImportJob, pk=job.pk)
    )
    # Sent again through the outbox (published when the task's transaction commits).
    [message] = OutboxMessage.objects.filter(task=task.name)
    kwargs, countdown = message.kwargs, message.countdown or 0
    assert kwargs == {"job_id": job.pk} and STALE.total_seconds() - 5 < countdown <= 121


def test_task_run_fails_the_job_at_its_time_limit(agency, bob) -> None:
    job = make_job(agency, bob, status=JobStatus.RUNNING)

    def run() -> None:
        raise SoftTimeLimitExceeded()

    job_task_run(task=FakeTask(), model=ImportJob, pk=job.pk, run=run)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and "longer than 60 seconds" in job.error


def test_task_run_retries_an_error_and_fails_the_job_on_the_last_try(agency, bob) -> None:
    job = make_job(agency, bob, status=JobStatus.RUNNING)

    def run() -> None:
        raise OSError("disk full")

    with pytest.raises(Retry):
        job_task_run(task=FakeTask(retries=0), model=ImportJob, pk=job.pk, run=run)
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED  # released: the retry claims it at once
    job_claim(model=ImportJob, pk=job.pk)
    with pytest.raises(OSError):
        job_task_run(task=FakeTask(retries=2), model=ImportJob, pk=job.pk, run=run)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED and job.error == "OSError: disk full"


def test_the_beat_sweep_reaps_a_stale_import_and_a_stale_capture(
    settings, agency, bob, finding, enqueued, django_capture_on_commit_callbacks
) -> None:
    from cases.evidence.services.captures import capture_request
    from cases.kernel.tasks import job_reap_stale_task

    entry = settings.CELERY_BEAT_SCHEDULE["job-reap-stale"]
    assert entry["task"] == job_reap_stale_task.name == "cases.kernel.tasks.job_reap_stale_task"
    long_ago = timezone.now() - timedelta(days=2)
    lost_import = make_job(agency, bob, status=JobStatus.RUNNING, attempts=1)
    spent_import = make_job(agency, bob, status=JobStatus.RUNNING, attempts=3)
    lost_capture = capture_request(finding=finding, actor=bob)
    ImportJob.objects.update(heartbeat_at=long_ago)
    Capture.objects.update(status=JobStatus.RUNNING, attempts=1, heartbeat_at=long_ago)
    live_import = make_job(agency, bob, status=JobStatus.RUNNING, attempts=1)

    with django_capture_on_commit_callbacks(execute=True):
        result = job_reap_stale_task()

    assert result["cases.ImportJob"] == {"requeued": 1, "failed": 1}
    assert result["cases.Capture"] == {"requeued": 1, "failed": 0}
    statuses = dict(ImportJob.objects.values_list("pk", "status"))
    assert statuses == {
        lost_import.pk: JobStatus.QUEUED,
        spent_import.pk: JobStatus.FAILED,
        live_import.pk: JobStatus.RUNNING,
    }
    assert Capture.objects.get(pk=lost_capture.pk).status == JobStatus.QUEUED
    assert sorted(enqueued) == sorted([lost_import.pk, lost_capture.pk])
    assert audit_actions(agency).count("capture.requeued") == 1
