"""No lost or orphaned work (issue 11, Done-when 1(b) and 1(c)), against a private Redis
that the tests start, stop and start again, a real worker and the PostgreSQL test database.

(b) With Redis stopped, a capture, an import and a fan report are requested through the
    web views: the three answer normally (the two jobs say they start when the workers are
    reachable), the fan report is stored, and the two messages wait in the outbox. Redis
    comes back, the outbox sweep runs (what beat does every 30 s), and the capture and the
    import each run exactly once (one claim, one task received, one end event each).
(c) The whole worker (main process and pool child) is killed with SIGKILL mid-import. A
    worker started again under the same node name requeues the import at start
    (cases.kernel.jobrecovery) instead of waiting for Redis's visibility timeout, and it
    finishes within 2 minutes of the restart, exactly once.

Each test skips without redis-server or PostgreSQL, and fails in CI (CI=true or
AG_REQUIRE_SERVICES=1) when one is missing (tests.conftest.require_service).
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator

import pytest
import redis
from django.db import connection, transaction
from django.urls import reverse

from agencyguard.celery import app as celery_app
from cases.evidence.models import Capture
from cases.intake.models import FanReport, Finding, ImportJob, ImportJobStatus
from cases.intake.services.imports import import_job_create
from cases.kernel.audit.services import audit_chain_verify
from cases.kernel.models import AuditEvent, OutboxMessage
from cases.kernel.outbox import outbox_sweep
from tests.conftest import require_service
from tests.factories import make_finding
from tests.integration.test_worker import _test_database_url
from tests.integration.workers import CeleryWorker

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TIMEOUT_S = 120
OFFLINE = "it starts when the workers are reachable"


class PrivateRedis:
    """`redis-server` on a free port, without persistence: stopped and started at will."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping():
                    return
            except redis.RedisError:
                time.sleep(0.05)
        pytest.fail(f"redis-server on port {self.port} did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def private_redis(django_db_setup) -> Iterator[PrivateRedis]:  # type: ignore[no-untyped-def]
    require_service(shutil.which("redis-server") is not None, "redis-server is not installed")
    require_service(
        connection.vendor == "postgresql",
        "a worker process needs a shared database: set DATABASE_URL to PostgreSQL",
    )
    server = PrivateRedis()
    server.start()
    # This process publishes to it exactly as the web does (settings for a redis:// URL).
    keys = ("broker_url", "broker_transport_options", "task_always_eager")
    saved = {key: celery_app.conf[key] for key in keys}
    celery_app.conf.broker_url = server.url
    celery_app.conf.broker_transport_options = {"socket_connect_timeout": 1, "max_retries": 0}
    celery_app.conf.task_always_eager = False
    _reset_pools()
    yield server
    for key, value in saved.items():
        celery_app.conf[key] = value
    _reset_pools()
    server.stop()


def _reset_pools() -> None:
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


def _wait(predicate: Callable[[], bool], what: str, worker: CeleryWorker) -> float:
    """Wait for `predicate`; returns the seconds it took."""
    start = time.monotonic()
    while time.monotonic() < start + TIMEOUT_S:
        if predicate():
            return time.monotonic() - start
        worker.assert_alive()
        time.sleep(0.2)
    pytest.fail(f"{what} not reached after {TIMEOUT_S}s:\n{worker.output()}")


def test_work_requested_while_redis_is_down_runs_exactly_once_when_it_is_back(
    private_redis, client, agency, bob, settings
) -> None:  # type: ignore[no-untyped-def]
    settings.CAPTURE_SCREENSHOT = False
    # A port the capture policy refuses (checked before any name lookup): the capture runs
    # to its end at once, offline. (A private address is refused already when recorded.)
    finding = make_finding(agency, "http://example.com:9/private", actor=bob)
    worker = CeleryWorker(
        broker_url=private_redis.url,
        database_url=_test_database_url(),
        queues="default,capture",
        name="outbox",
        env={"CAPTURE_SCREENSHOT": "0"},
        output_chars=20000,
    )
    try:
        _wait(lambda: " ready." in worker.output(), "the worker being ready", worker)
        private_redis.stop()

        client.force_login(bob)
        capture_page = client.post(reverse("capture_request", args=[finding.pk]), follow=True)
        import_page = client.post(
            reverse("import_create"), {"lines": "https://x.com/fan/status/1"}, follow=True
        )
        client.logout()
        fan = client.post(
            reverse("fan_report", args=[agency.slug]),
            {"url": "https://www.tiktok.com/@fake/video/77", "description": "a fake"},
        )
        assert capture_page.status_code == 200 and OFFLINE in capture_page.content.decode()
        assert import_page.status_code == 200 and OFFLINE in import_page.content.decode()
        assert fan.status_code == 302, fan.content[:500]
        assert FanReport.objects.filter(agency=agency).count() == 1
        capture, job = Capture.objects.get(finding=finding), ImportJob.objects.get()
        assert capture.status == job.status == "queued"
        assert OutboxMessage.objects.filter(sent_at=None).count() == 2

        # "Capture now" again while the message waits: the same capture, no second message.
        again = client.post(reverse("capture_request", args=[finding.pk]))
        assert again.status_code == 302  # anonymous now: to the login page, nothing queued
        assert Capture.objects.filter(finding=finding).count() == 1

        private_redis.start()  # an empty Redis: the messages exist only in the outbox
        _reset_pools()
        assert outbox_sweep().sent == 2
        _wait(
            lambda: (
                not ImportJob.objects.filter(status__in=["queued", "running"]).exists()
                and not Capture.objects.filter(status__in=["queued", "running"]).exists()
            ),
            "the capture and the import finishing",
            worker,
        )
        time.sleep(3)  # a duplicate delivery would show by now
        output = worker.output()
    finally:
        worker.stop()
        private_redis.start() if private_redis.process is None else None

    capture.refresh_from_db()
    job.refresh_from_db()
    assert job.status == ImportJobStatus.DONE and job.attempts == 1, (job.error, output)
    assert capture.attempts == 1 and capture.progress == 100, (capture.error, output)
    # Each task was delivered once (and its job claimed once: attempts 1).
    for task in ("cases.intake.tasks.import_job_run_task", "cases.evidence.tasks.capture_run_task"):
        assert len(re.findall(rf"Task {re.escape(task)}\[[^]]+\] received", output)) == 1, output
    events = AuditEvent.objects.filter(agency=agency)
    assert events.filter(action="import.finished").count() == 1
    assert events.filter(action="capture.requested").count() == 1
    assert events.filter(action="fan_report.received").count() == 1
    assert Finding.objects.filter(agency=agency, url__contains="x.com/fan").count() == 1
    assert not OutboxMessage.objects.filter(sent_at=None).exists()


ROWS, CHUNK = 6000, 250


def test_a_whole_worker_killed_mid_import_resumes_within_two_minutes_of_its_restart(
    private_redis, agency, bob
) -> None:  # type: ignore[no-untyped-def]
    def start() -> CeleryWorker:
        # Its own process group: kill() ends the main process and the pool child at once.
        return CeleryWorker(
            broker_url=private_redis.url,
            database_url=_test_database_url(),
            queues="default",
            name="crash",  # the same node name across the restart
            pool_args=("--pool", "prefork", "--concurrency", "1", "--without-heartbeat"),
            env={"IMPORT_CHUNK_SIZE": str(CHUNK)},
            own_group=True,
            output_chars=8000,
        )

    lines = [f"https://www.instagram.com/p/crash{n}/" for n in range(ROWS)]
    first = start()
    try:
        _wait(lambda: " ready." in first.output(), "the first worker being ready", first)
        with transaction.atomic():
            job = import_job_create(agency=agency, actor=bob, text="\n".join(lines))
        _wait(
            lambda: ImportJob.objects.get(pk=job.pk).processed_rows >= ROWS // 3,
            "a third of the import committed",
            first,
        )
        first.kill()
    finally:
        first.stop()
    at_kill = ImportJob.objects.get(pk=job.pk)
    assert at_kill.status == ImportJobStatus.RUNNING and at_kill.processed_rows < ROWS

    second = start()
    try:
        took = _wait(
            lambda: (
                ImportJob.objects.get(pk=job.pk).status != ImportJobStatus.RUNNING
                and ImportJob.objects.get(pk=job.pk).status != ImportJobStatus.QUEUED
            ),
            "the import finishing after the restart",
            second,
        )
        output = second.output()
    finally:
        second.stop()
    job.refresh_from_db()
    assert took < 120, took
    assert job.status == ImportJobStatus.DONE, (job.error, output)
    assert job.attempts == 2 and job.processed_rows == ROWS
    assert job.created_count == ROWS
    recorded = AuditEvent.objects.filter(agency=agency, action="finding.recorded")
    assert recorded.count() == ROWS == recorded.values("object_id").distinct().count()
    assert AuditEvent.objects.filter(agency=agency, action="import.finished").count() == 1
    assert AuditEvent.objects.filter(agency=agency, action="import.requeued").count() == 1
    assert audit_chain_verify(agency=agency).ok
