"""Real Celery workers run captures of the local site, and one is killed mid-capture.

A worker subprocess (Redis broker, the PostgreSQL test database, the capture queue) takes
a capture whose page has an image that takes seconds to arrive. While the worker waits
for it, the test kills the worker's whole process group with SIGKILL (no cleanup, no
acknowledgement: a machine that died). With acks_late, Redis keeps the message as
unacknowledged; after the visibility timeout (3 s here, CELERY_BROKER_VISIBILITY_TIMEOUT)
a new worker gets it again and finishes the same Capture row. Afterwards: one capture,
no duplicate Evidence, and every stored blob whole (it hashes to its name).

Like tests/integration/test_worker.py, these skip without PostgreSQL and Redis, and fail
in CI (CI=true or AG_REQUIRE_SERVICES=1) when a service is missing.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.test import override_settings

from agencyguard.celery import app as celery_app
from cases.evidence.capture.wacz import wacz_validate
from cases.evidence.models import Capture, CaptureStatus, Evidence
from cases.evidence.services.captures import capture_request
from cases.evidence.services.evidence import evidence_open
from cases.kernel.models import AuditEvent
from cases.kernel.storage import blob_hash
from tests.capture.capture_site import IMAGES, SuspectSite
from tests.conftest import require_service
from tests.factories import make_finding
from tests.integration.test_worker import (
    _redis_available,
    _redis_url,
    _test_database_url,
)
from tests.integration.workers import CeleryWorker

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 90
VISIBILITY_TIMEOUT_S = 3


def CaptureWorker(
    *, broker_url: str, database_url: str, var_dir: Path, site_port: int, name: str
) -> CeleryWorker:
    """A worker for the capture queue in its own process group (so that killing it also
    kills the Chromium it started)."""
    return CeleryWorker(
        broker_url=broker_url,
        database_url=database_url,
        queues="capture,default",
        name=name,
        own_group=True,
        env={
            "CELERY_BROKER_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT_S),
            "VAR_DIR": str(var_dir),  # evidence under var_dir/media, shared with this process
            # The test switch: loopback allowed, and only the local site's port.
            "CAPTURE_ALLOW_LOOPBACK_FOR_TESTS": "1",
            "CAPTURE_ALLOWED_PORTS": str(site_port),
            "CAPTURE_SCREENSHOT": "1"
            if shutil.which(django_settings.CAPTURE_CHROMIUM_PATH)
            else "0",
        },
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
def shared_media(settings, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """One evidence directory for this process and the workers."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return tmp_path


@pytest.fixture
def slow_site() -> Iterator[SuspectSite]:
    site = SuspectSite(slow_seconds=6.0).start()
    yield site
    site.stop()


@pytest.fixture
def workers(django_db_setup, broker, shared_media, slow_site) -> Iterator[list[CeleryWorker]]:  # type: ignore[no-untyped-def]
    require_service(
        connection.vendor == "postgresql",
        "a worker process needs a shared database: set DATABASE_URL to PostgreSQL "
        f"(the {connection.vendor} test database lives in this process only)",
    )
    started: list[CeleryWorker] = []
    yield started
    for worker in started:
        worker.stop()


def _start(
    workers: list[CeleryWorker], broker: str, var_dir: Path, site: SuspectSite, name: str
) -> CeleryWorker:
    worker = CaptureWorker(
        broker_url=broker,
        database_url=_test_database_url(),
        var_dir=var_dir,
        site_port=site.port,
        name=name,
    )
    workers.append(worker)
    return worker


def _wait(condition, what: str, worker: CeleryWorker | None) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        if condition():
            return
        if worker is not None:
            worker.assert_alive()
        time.sleep(0.1)
    pytest.fail(f"{what} not reached after {TIMEOUT_S}s:\n{worker.output() if worker else ''}")


def _assert_no_duplicate_or_partial_evidence(media_root: Path) -> None:
    shas = list(Evidence.objects.values_list("sha256", flat=True))
    assert len(shas) == len(set(shas))
    for evidence in Evidence.objects.all():
        assert blob_hash(evidence.storage_name) == evidence.sha256
    # Nothing under a content address is partial: every blob hashes to its own name.
    blobs = list((media_root / "evidence" / "sha256").rglob("*"))
    for blob in (b for b in blobs if b.is_file()):
        assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name, blob


def _assert_every_capture_has_a_valid_wacz(folder: Path) -> None:
    """The workers' captures, like every capture of the suite, come with a WACZ that passes
    `wacz validate` (in-process captures are checked by tests/conftest.py)."""
    finished = Capture.objects.exclude(status__in=(CaptureStatus.QUEUED, CaptureStatus.RUNNING))
    assert finished.exists()
    for capture in finished:
        package = Evidence.objects.get(capture=capture, kind="wacz")
        path = folder / f"capture-{capture.pk}.wacz"
        with evidence_open(package) as handle:
            path.write_bytes(handle.read())
        wacz_validate(path)


def test_a_worker_killed_mid_capture_is_replaced_and_the_capture_completes_once(
    workers, broker, shared_media, slow_site, agency, bob
) -> None:  # type: ignore[no-untyped-def]
    with override_settings(CAPTURE_ALLOW_LOOPBACK_FOR_TESTS=True):  # as the workers run
        finding = make_finding(agency, f"http://127.0.0.1:{slow_site.port}/slow", actor=bob)
    first = _start(workers, broker, shared_media, slow_site, "first")
    with transaction.atomic():
        capture = capture_request(finding=finding, actor=bob)

    # The worker is waiting for the slow image (in Chromium or in the media step): kill it.
    _wait(lambda: "/img/slow.png" in slow_site.hits, "the slow image being requested", first)
    first.kill()
    running = Capture.objects.get(pk=capture.pk)
    assert running.status == CaptureStatus.RUNNING
    assert Evidence.objects.count() == 0  # nothing is stored before the capture is complete

    slow_site.slow_seconds = 0.2
    # Past the visibility timeout, the next worker restores the unacknowledged message as
    # it starts polling (later on, kombu only rescans every ~100 s).
    time.sleep(VISIBILITY_TIMEOUT_S + 1)
    second = _start(workers, broker, shared_media, slow_site, "second")
    _wait(
        lambda: (
            Capture.objects.get(pk=capture.pk).status
            not in (CaptureStatus.QUEUED, CaptureStatus.RUNNING)
        ),
        "the redelivered capture finishing",
        second,
    )

    done = Capture.objects.get(pk=capture.pk)
    assert done.status == CaptureStatus.DONE, (done.error, second.output())
    assert done.attempts == 2
    assert Capture.objects.filter(finding=finding).count() == 1
    kinds = set(Evidence.objects.filter(capture=done).values_list("kind", flat=True))
    assert {"html", "headers", "warc", "media"} <= kinds
    slow = hashlib.sha256(IMAGES["/img/slow.png"]).hexdigest()
    assert Evidence.objects.filter(sha256=slow, kind="media").count() == 1
    assert AuditEvent.objects.filter(action="capture.finished", object_id=str(done.pk)).count() == 1
    _assert_no_duplicate_or_partial_evidence(shared_media / "media")
    _assert_every_capture_has_a_valid_wacz(shared_media)


def test_two_workers_running_the_same_capture_at_once_record_it_once(
    workers, broker, shared_media, slow_site, agency, bob
) -> None:  # type: ignore[no-untyped-def]
    slow_site.slow_seconds = 4.0
    with override_settings(CAPTURE_ALLOW_LOOPBACK_FOR_TESTS=True):  # as the workers run
        finding = make_finding(agency, f"http://127.0.0.1:{slow_site.port}/slow", actor=bob)
    one = _start(workers, broker, shared_media, slow_site, "one")
    two = _start(workers, broker, shared_media, slow_site, "two")
    for worker in (one, two):  # both consuming, so that the two deliveries overlap
        _wait(lambda w=worker: " ready." in w.output(), "the worker being ready", worker)
    with transaction.atomic():
        capture = capture_request(finding=finding, actor=bob)
    # A duplicate delivery (lost ack, operator re-queue) while the first one runs.
    celery_app.send_task(
        "cases.evidence.tasks.capture_run_task", kwargs={"capture_id": capture.pk}, queue="capture"
    )

    _wait(
        lambda: Capture.objects.get(pk=capture.pk).status == CaptureStatus.DONE,
        "the capture finishing",
        one,
    )
    client = redis.Redis.from_url(broker)
    _wait(
        lambda: client.llen("capture") == 0 and client.hlen("unacked") == 0,
        "the queue draining",
        one,
    )

    done = Capture.objects.get(pk=capture.pk)
    assert done.attempts == 2  # both deliveries ran the pipeline
    assert AuditEvent.objects.filter(action="capture.finished", object_id=str(done.pk)).count() == 1
    assert Evidence.objects.filter(capture=done).count() == len(
        {item["sha256"] for item in done.details["artefacts"]}
    )
    _assert_no_duplicate_or_partial_evidence(shared_media / "media")
    _assert_every_capture_has_a_valid_wacz(shared_media)
