"""A real Celery worker on a real Redis broker runs bulk imports against the test database.

The web side (this process) sends tasks through the broker exactly as in production; a worker
subprocess picks them up and writes to the same PostgreSQL test database. SQLite's in-memory
test database cannot be shared with another process, so on a laptop without PostgreSQL these
tests skip; in CI (CI=true or AG_REQUIRE_SERVICES=1) a missing service fails them instead.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
import redis
from django.db import connection, transaction

from agencyguard.celery import app as celery_app
from cases.intake.models import Finding, ImportJob, ImportJobStatus
from cases.intake.services.imports import import_job_create
from cases.intake.tasks import import_job_run_task
from cases.kernel.audit.services import audit_chain_verify
from cases.kernel.models import AuditEvent
from tests.conftest import require_service
from tests.factories import make_finding
from tests.integration.workers import CeleryWorker

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
JOB_TIMEOUT_S = 60


def _redis_url() -> str:
    """AG_TEST_REDIS_URL (default db 15); each xdist worker gets its own db number so two
    test processes never consume each other's tasks."""
    url = os.getenv("AG_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
    worker = os.getenv("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return url
    parts = urlsplit(url)
    base = int(parts.path.strip("/") or "15")
    return urlunsplit(parts._replace(path=f"/{(base - int(worker[2:])) % 16}"))


def _redis_available(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


def _test_database_url() -> str:
    """The URL of the test database pytest-django created (test_agencyguard on PostgreSQL)."""
    s = connection.settings_dict
    credentials = quote(s["USER"] or "", safe="") + ":" + quote(s["PASSWORD"] or "", safe="")
    host = quote(s["HOST"] or "", safe="")
    return f"postgres://{credentials}@{host}:{s['PORT'] or 5432}/{s['NAME']}"


def Worker(broker_url: str, database_url: str) -> CeleryWorker:
    """A solo-pool worker on the default queue."""
    return CeleryWorker(
        broker_url=broker_url, database_url=database_url, queues="default", name="it"
    )


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    url = _redis_url()
    require_service(
        _redis_available(url), f"Redis is not reachable at {url} (set AG_TEST_REDIS_URL)"
    )
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()


@pytest.fixture(scope="module")
def worker(django_db_setup, redis_url: str) -> Iterator[CeleryWorker]:  # type: ignore[no-untyped-def]
    require_service(
        connection.vendor == "postgresql",
        "a worker process needs a shared database: set DATABASE_URL to PostgreSQL "
        f"(the {connection.vendor} test database lives in this process only)",
    )
    worker = Worker(redis_url, _test_database_url())
    yield worker
    worker.stop()


def _wait_for_job(job_id: int, worker: CeleryWorker) -> ImportJob:
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while time.monotonic() < deadline:
        job = ImportJob.objects.get(pk=job_id)
        if job.status in (ImportJobStatus.DONE, ImportJobStatus.FAILED):
            return job
        worker.assert_alive()
        time.sleep(0.2)
    pytest.fail(f"import #{job_id} not finished after {JOB_TIMEOUT_S}s:\n{worker.output()}")


def _wait_for_empty_queue(redis_url: str, worker: CeleryWorker, queue: str = "default") -> None:
    """Wait until every message was delivered and acknowledged (acks_late keeps a message
    in Redis's `unacked` hash until its task has returned)."""
    client = redis.Redis.from_url(redis_url)
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while time.monotonic() < deadline:
        if client.llen(queue) == 0 and client.hlen("unacked") == 0:
            return
        worker.assert_alive()
        time.sleep(0.2)
    pytest.fail(f"queue {queue!r} not drained after {JOB_TIMEOUT_S}s:\n{worker.output()}")


def test_worker_runs_an_import_with_created_duplicate_and_invalid_rows(
    worker, broker, agency, bob, artist
) -> None:  # type: ignore[no-untyped-def]
    existing = make_finding(agency, "https://www.youtube.com/watch?v=already-known", actor=bob)
    text = "\n".join(
        [
            "url,artist",
            "https://www.tiktok.com/@fake/video/1?utm_source=x,Yuna",  # created, linked to Yuna
            "https://x.com/fake/status/2,",  # created
            "https://X.com/fake/status/2?fbclid=abc,",  # duplicate of the row above
            "https://WWW.youtube.com:443/watch?si=zz&v=already-known,",  # duplicate of an existing finding
            "ftp://files.example/clip.mp4,",  # invalid: scheme
            "https://reddit.com/r/x/1,Nobody",  # recorded with a warning: unknown artist
        ]
    )
    with transaction.atomic():
        job = import_job_create(agency=agency, actor=bob, text=text, filename="sweep.csv")
    # on_commit has sent the task to Redis; the worker subprocess does the rest.

    job = _wait_for_job(job.pk, worker)

    assert job.status == ImportJobStatus.DONE, job.error
    counts = (job.created_count, job.warning_count, job.duplicate_count, job.invalid_count)
    assert counts == (2, 1, 2, 1)
    assert job.processed_rows == job.total_rows == 6
    outcomes = {row[0]: row[1] for row in job.report}
    assert outcomes == {
        2: "created",
        3: "created",
        4: "duplicate",
        5: "duplicate",
        6: "invalid",
        7: "warning",
    }
    assert Finding.objects.filter(agency=agency).count() == 4
    tiktok = Finding.objects.get(agency=agency, host="www.tiktok.com")
    assert tiktok.canonical_url == "https://www.tiktok.com/@fake/video/1"
    assert list(tiktok.artists.all()) == [artist]
    assert existing.pk in {row[2] for row in job.report}
    assert AuditEvent.objects.filter(agency=agency, action="import.finished").count() == 1
    assert audit_chain_verify(agency=agency).ok


def test_the_same_import_task_delivered_three_times_records_each_url_once(
    worker, broker, agency, bob
) -> None:  # type: ignore[no-untyped-def]
    # 11,000 rows span three chunks, each committed by the worker on its own.
    rows = 11_000
    text = "\n".join(f"https://www.instagram.com/p/clip{n}/?igshid=share" for n in range(rows))
    with transaction.atomic():
        job = import_job_create(agency=agency, actor=bob, text=text)
    # Redelivery after a lost ack, a retry, or an operator re-queueing: same job id, twice more.
    import_job_run_task.apply_async(kwargs={"job_id": job.pk})
    celery_app.send_task(
        "cases.intake.tasks.import_job_run_task", kwargs={"job_id": job.pk}, queue="default"
    )

    job = _wait_for_job(job.pk, worker)
    _wait_for_empty_queue(broker, worker)

    job.refresh_from_db()
    assert job.status == ImportJobStatus.DONE, job.error
    assert (job.created_count, job.duplicate_count, job.invalid_count) == (rows, 0, 0)
    assert len(job.report) == rows
    assert Finding.objects.filter(agency=agency).count() == rows
    assert AuditEvent.objects.filter(agency=agency, action="finding.recorded").count() == rows
    assert AuditEvent.objects.filter(agency=agency, action="import.finished").count() == 1
    assert worker.output().count("import_job_run_task") >= 3
    report = audit_chain_verify(agency=agency)
    assert report.ok, report.reason
