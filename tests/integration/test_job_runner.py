"""The job runner against a real worker: the pool child running a bulk import is killed
with SIGKILL mid-import, and the import resumes and finishes exactly once.

A prefork worker (one pool child) on Redis runs an import of a few thousand rows in small
chunks against the PostgreSQL test database. While the import is half done, the test
kills the pool child, not the main worker process: no cleanup, no acknowledgement, its
open transaction rolled back by PostgreSQL. Because the task is acks_late and
reject_on_worker_lost, the main process hands the message back to Redis, a new pool child
takes it, and the claim (cases.kernel.jobs.job_claim) resumes the running import after
its last committed chunk. Afterwards every valid URL is a finding once, with one
`finding.recorded` event each, one `import.finished`, and an intact audit chain.

Like tests/integration/test_worker.py, this skips without PostgreSQL and Redis, and fails
in CI (CI=true or AG_REQUIRE_SERVICES=1) when a service is missing.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.db import connection, transaction

from cases.intake.models import Finding, ImportJob, ImportJobStatus
from cases.intake.services.imports import import_job_create
from cases.kernel.audit.services import audit_chain_verify
from cases.kernel.models import AuditEvent
from tests.conftest import require_service
from tests.integration.test_worker import _redis_available, _redis_url, _test_database_url
from tests.integration.workers import CeleryWorker

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 120
CHUNK = 250
ROWS = 6000


def PreforkWorker(broker_url: str, database_url: str) -> CeleryWorker:
    """`--pool prefork --concurrency 1`: a main process and one pool child that runs the
    tasks (and is replaced when it dies)."""
    return CeleryWorker(
        broker_url=broker_url,
        database_url=database_url,
        queues="default",
        name="jobs",
        pool_args=("--pool", "prefork", "--concurrency", "1", "--without-heartbeat"),
        env={"IMPORT_CHUNK_SIZE": str(CHUNK)},
        output_chars=8000,
    )


@pytest.fixture
def redis_url() -> Iterator[str]:
    url = _redis_url()
    require_service(
        _redis_available(url), f"Redis is not reachable at {url} (set AG_TEST_REDIS_URL)"
    )
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()


@pytest.fixture
def prefork_worker(django_db_setup, redis_url: str) -> Iterator[CeleryWorker]:  # type: ignore[no-untyped-def]
    require_service(
        connection.vendor == "postgresql",
        "a worker process needs a shared database: set DATABASE_URL to PostgreSQL",
    )
    worker = PreforkWorker(redis_url, _test_database_url())
    yield worker
    worker.stop()


def _wait(predicate, what: str, worker: CeleryWorker, interval: float = 0.02) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        if predicate():
            return
        worker.assert_alive()
        time.sleep(interval)
    pytest.fail(f"{what} not reached after {TIMEOUT_S}s:\n{worker.output()}")


def _rows() -> tuple[str, int]:
    """ROWS lines: every 50th invalid, and the last 1000 repeating earlier URLs (duplicates
    across chunks, so a resumed run must find them in the database)."""
    lines = []
    for n in range(ROWS):
        if n % 50 == 0:
            lines.append(f"ftp://files.example/{n}")
        else:
            lines.append(f"https://www.instagram.com/p/clip{n % (ROWS - 1000)}/?igshid=share")
    valid = {line.split("?")[0] for line in lines if line.startswith("https://")}
    return "\n".join(lines), len(valid)


def test_sigkill_of_the_pool_child_mid_import_resumes_and_finishes_exactly_once(
    prefork_worker, broker, agency, bob
) -> None:  # type: ignore[no-untyped-def]
    text, unique_valid = _rows()
    _wait(lambda: " ready." in prefork_worker.output(), "the worker being ready", prefork_worker)
    [child] = prefork_worker.pool_children()
    with transaction.atomic():
        job = import_job_create(agency=agency, actor=bob, text=text, filename="kill.csv")

    # Half-way through, the pool child is killed like the kernel's OOM killer would.
    _wait(
        lambda: ImportJob.objects.get(pk=job.pk).processed_rows >= ROWS // 3,
        "a third of the import committed",
        prefork_worker,
    )
    os.kill(child, signal.SIGKILL)
    at_kill = ImportJob.objects.get(pk=job.pk)
    assert at_kill.status == ImportJobStatus.RUNNING and at_kill.processed_rows < ROWS
    assert at_kill.attempts == 1

    _wait(
        lambda: ImportJob.objects.get(pk=job.pk).status != ImportJobStatus.RUNNING,
        "the import finishing after the kill",
        prefork_worker,
        interval=0.2,
    )
    client = redis.Redis.from_url(broker)
    _wait(
        lambda: client.llen("default") == 0 and client.hlen("unacked") == 0,
        "the queue draining",
        prefork_worker,
        interval=0.2,
    )

    job.refresh_from_db()
    output = prefork_worker.output()
    assert job.status == ImportJobStatus.DONE, (job.error, output)
    # The child that ran it is gone; the message came back (reject_on_worker_lost) and a
    # new child resumed the same row: a second claim, not a second job.
    assert child not in prefork_worker.pool_children()
    assert "WorkerLostError" in output or "signal 9" in output, output
    assert job.attempts == 2
    assert (job.processed_rows, job.total_rows, job.progress) == (ROWS, ROWS, 100)
    assert job.created_count == unique_valid
    assert job.invalid_count == ROWS // 50
    assert job.duplicate_count == ROWS - unique_valid - ROWS // 50
    assert sorted(entry[0] for entry in job.report) == list(range(1, ROWS + 1))
    findings = Finding.objects.filter(agency=agency)
    assert findings.count() == unique_valid
    assert findings.values("canonical_hash").distinct().count() == unique_valid
    recorded = AuditEvent.objects.filter(agency=agency, action="finding.recorded")
    assert recorded.count() == unique_valid
    assert recorded.values("object_id").distinct().count() == unique_valid
    assert AuditEvent.objects.filter(agency=agency, action="import.finished").count() == 1
    report = audit_chain_verify(agency=agency)
    assert report.ok, report.reason
