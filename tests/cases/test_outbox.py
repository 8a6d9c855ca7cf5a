"""The transactional outbox (cases.kernel.outbox) and what the job runner does with it:
a message is published when its transaction commits, kept when the broker is unreachable
(the request answers normally), sent by the sweep later, never sent for a rolled-back
transaction; and a job published twice is never run twice (cases.kernel.jobclaims)."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from agencyguard.celery import app as celery_app
from cases.intake.models import ImportJob, ImportJobStatus
from cases.kernel import outbox
from cases.kernel.jobclaims import worker_bound
from cases.kernel.jobrecovery import job_requeue_for_worker, job_resend_if_stale
from cases.kernel.jobs import JobBusy, JobStatus, job_claim, job_reap_stale
from cases.kernel.models import JobClaim, OutboxMessage
from cases.kernel.outbox import outbox_enqueue, outbox_sweep
from cases.kernel.requestid import request_id_bound

pytestmark = pytest.mark.django_db

TASK = "cases.intake.tasks.import_job_run_task"


def _reset_pools() -> None:
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def broker_down() -> Iterator[None]:
    """This process's Celery app points at a Redis port where nothing listens."""
    keys = ("broker_url", "broker_transport_options", "task_always_eager")
    saved = {key: celery_app.conf[key] for key in keys}
    celery_app.conf.broker_url = "redis://127.0.0.1:1/0"
    celery_app.conf.broker_transport_options = {"socket_connect_timeout": 1, "max_retries": 0}
    celery_app.conf.task_always_eager = False
    _reset_pools()
    yield
    for key, value in saved.items():
        celery_app.conf[key] = value
    _reset_pools()


@pytest.fixture
def published(monkeypatch) -> list[tuple[str, dict[str, Any], str]]:  # type: ignore[no-untyped-def]
    """What reached the broker (task, kwargs, bound request id), instead of a broker."""
    sent: list[tuple[str, dict[str, Any], str]] = []

    def send(row: OutboxMessage) -> None:
        from cases.kernel.requestid import request_id_get

        with request_id_bound(row.request_id):
            sent.append((row.task, row.kwargs, request_id_get()))

    monkeypatch.setattr(outbox, "_send", send)
    celery_app.conf.task_always_eager = False  # reset by the autouse _eager_celery
    return sent


def make_job(agency, user, **fields) -> ImportJob:  # type: ignore[no-untyped-def]
    return ImportJob.objects.create(
        agency=agency, created_by=user, payload="https://a.example/1", total_rows=1, **fields
    )


def test_a_message_is_published_when_its_transaction_commits(
    published, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        with request_id_bound("req-12345678"):
            row = outbox_enqueue(TASK, job_id=7)
        assert published == []  # not before the commit
    assert published == [(TASK, {"job_id": 7}, "req-12345678")]
    row.refresh_from_db()
    assert row.sent_at is not None and row.attempts == 1 and row.request_id == "req-12345678"


def test_a_rolled_back_transaction_sends_nothing(
    published, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        outbox_enqueue(TASK, job_id=7)
        raise RuntimeError("rolled back")
    assert published == [] and not OutboxMessage.objects.exists()
    assert outbox_sweep().sent == 0 and published == []


def test_an_unreachable_broker_keeps_the_message_and_the_sweep_sends_it_later(
    broker_down, django_capture_on_commit_callbacks, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        first = outbox_enqueue(TASK, job_id=1)
        second = outbox_enqueue(TASK, job_id=2)
    # No exception reached the caller; the rows wait, with the broker's error.
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.sent_at is None and first.attempts == 1
    assert "Connection refused" in first.last_error or "111" in first.last_error
    assert second.sent_at is None and second.attempts == 1
    report = outbox_sweep()
    assert report.sent == 0 and report.error

    sent: list[int] = []
    monkeypatch.setattr(outbox, "_send", lambda row: sent.append(row.kwargs["job_id"]))
    report = outbox_sweep()
    assert report.sent == 2 and sent == [1, 2]  # oldest first
    assert not OutboxMessage.objects.filter(sent_at=None).exists()
    assert outbox_sweep().sent == 0 and sent == [1, 2]  # each sent once


def test_the_sweep_prunes_sent_messages_after_the_retention(published, settings) -> None:  # type: ignore[no-untyped-def]
    settings.OUTBOX_RETENTION = timedelta(hours=1)
    old = OutboxMessage.objects.create(task=TASK, sent_at=timezone.now() - timedelta(hours=2))
    recent = OutboxMessage.objects.create(task=TASK, sent_at=timezone.now())
    assert outbox_sweep().pruned == 1
    assert not OutboxMessage.objects.filter(pk=old.pk).exists()
    assert OutboxMessage.objects.filter(pk=recent.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_import_page_answers_normally_with_the_broker_down(broker_down, client, bob) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    # A real commit (transaction=True): on_commit runs before the view checks the outbox.
    response = client.post(reverse("import_create"), {"lines": "https://x.com/a/status/1"})
    assert response.status_code == 302
    job = ImportJob.objects.get()
    assert job.status == ImportJobStatus.QUEUED
    page = client.get(response["Location"]).content.decode()
    assert "it starts when the workers are reachable" in page
    assert OutboxMessage.objects.get(sent_at=None).kwargs == {"job_id": job.pk}


@pytest.mark.django_db(transaction=True)
def test_the_normal_message_when_the_broker_took_it(published, client, bob) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    # A real commit (transaction=True): on_commit runs before the view checks the outbox.
    response = client.post(reverse("import_create"), {"lines": "https://x.com/a/status/1"})
    page = client.get(response["Location"]).content.decode()
    assert "workers are reachable" not in page and len(published) == 1


def test_a_stale_queued_job_is_not_failed_while_its_message_waits_in_the_outbox(
    agency, bob, settings
) -> None:  # type: ignore[no-untyped-def]
    job = make_job(agency, bob, heartbeat_at=timezone.now() - timedelta(days=2))
    lost = make_job(agency, bob, heartbeat_at=timezone.now() - timedelta(days=2))
    OutboxMessage.objects.create(task=TASK, kwargs={"job_id": job.pk})
    report = job_reap_stale(model=ImportJob)
    assert report.failed == [lost.pk]
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED


# --- published twice, run once --------------------------------------------------------


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_a_second_message_for_a_job_a_live_process_runs_is_refused(agency, bob) -> None:  # type: ignore[no-untyped-def]
    """Imports may overlap (job_overlap_safe), but a duplicate message never joins a run
    whose process is alive."""
    job = make_job(agency, bob)
    with worker_bound("w1@host"):
        assert job_claim(model=ImportJob, pk=job.pk) is not None
    claim = JobClaim.objects.get(job_id=job.pk)
    assert (claim.worker, claim.pid) == ("w1@host", os.getpid())
    # The running process is alive on this node (here: our parent).
    JobClaim.objects.filter(pk=claim.pk).update(pid=os.getppid())
    with worker_bound("w1@host"), pytest.raises(JobBusy):
        job_claim(model=ImportJob, pk=job.pk)
    job.refresh_from_db()
    assert job.attempts == 1


def test_a_job_whose_process_died_on_this_node_is_resumed_at_once(agency, bob) -> None:  # type: ignore[no-untyped-def]
    job = make_job(agency, bob)
    with worker_bound("w1@host"):
        job_claim(model=ImportJob, pk=job.pk)
    JobClaim.objects.filter(job_id=job.pk).update(pid=_dead_pid())
    with worker_bound("w1@host"):
        assert job_claim(model=ImportJob, pk=job.pk) is not None
    job.refresh_from_db()
    assert (job.status, job.attempts) == (JobStatus.RUNNING, 2)


def test_a_finished_job_published_again_is_not_run(agency, bob) -> None:  # type: ignore[no-untyped-def]
    job = make_job(agency, bob, status=ImportJobStatus.DONE)
    with worker_bound("w1@host"):
        assert job_claim(model=ImportJob, pk=job.pk) is None
    assert not JobClaim.objects.exists()


def test_a_worker_that_starts_again_requeues_what_it_was_running(
    agency, bob, published, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    mine, other, later = make_job(agency, bob), make_job(agency, bob), make_job(agency, bob)
    with worker_bound("w1@host"):
        job_claim(model=ImportJob, pk=mine.pk)
    with worker_bound("w2@host"):
        job_claim(model=ImportJob, pk=other.pk)
    started = timezone.now()
    with worker_bound("w1@host"):
        job_claim(model=ImportJob, pk=later.pk)  # claimed by the new run: left alone
    with django_capture_on_commit_callbacks(execute=True):
        done = job_requeue_for_worker(worker="w1@host", started_at=started)
    assert done == {"requeued": [mine.pk], "failed": []}
    statuses = dict(ImportJob.objects.values_list("pk", "status"))
    assert statuses == {mine.pk: "queued", other.pk: "running", later.pk: "running"}
    assert published == [(TASK, {"job_id": mine.pk}, published[0][2])]


def test_capture_now_sends_a_stuck_queued_job_again_but_not_one_waiting_in_the_outbox(
    agency, bob, published, django_capture_on_commit_callbacks, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.IMPORT_STALE_AFTER = timedelta(minutes=2)
    old = timezone.now() - timedelta(minutes=30)
    waiting = make_job(agency, bob, heartbeat_at=old)
    OutboxMessage.objects.create(task=TASK, kwargs={"job_id": waiting.pk})
    lost = make_job(agency, bob, heartbeat_at=old)
    fresh = make_job(agency, bob)
    with django_capture_on_commit_callbacks(execute=True):
        assert job_resend_if_stale(waiting) is False
        assert job_resend_if_stale(fresh) is False
        assert job_resend_if_stale(lost) is True
    assert [kwargs for _task, kwargs, _rid in published] == [{"job_id": lost.pk}]
