"""The scheduled poll on a real Celery worker: the beat task, sent through Redis, is run by
a worker process (capture queue, the PostgreSQL test database, the loopback test switch)
that polls the local fixture web and records the findings; the second sweep gets 304s and
records nothing. Skips without PostgreSQL and Redis, fails in CI without them."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis
from django.db import connection
from django.utils import timezone

from cases.intake.models import Finding, FindingSource
from cases.intake.monitor.models import WatchedSource
from cases.intake.services.watched_sources import watched_source_save
from cases.intake.tasks import watched_sources_poll_due_task
from tests.conftest import require_service
from tests.factories import ArtistFactory
from tests.integration.test_worker import _redis_available, _redis_url, _test_database_url
from tests.integration.workers import CeleryWorker
from tests.monitor.web import FixtureWeb, fixture_web

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TIMEOUT_S = 60


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
def site(settings) -> Iterator[FixtureWeb]:  # type: ignore[no-untyped-def]
    with fixture_web() as web:
        settings.CAPTURE_ALLOW_LOOPBACK_FOR_TESTS = True  # as the worker runs
        settings.MONITOR_ALLOWED_PORTS = [web.port]
        yield web


@pytest.fixture
def worker(django_db_setup, broker, site) -> Iterator[CeleryWorker]:  # type: ignore[no-untyped-def]
    require_service(
        connection.vendor == "postgresql",
        "a worker process needs a shared database: set DATABASE_URL to PostgreSQL",
    )
    started = CeleryWorker(
        broker_url=broker,
        database_url=_test_database_url(),
        queues="capture,default",
        name="monitor",
        env={
            "CAPTURE_ALLOW_LOOPBACK_FOR_TESTS": "1",
            "MONITOR_ALLOWED_PORTS": str(site.port),
            "MONITOR_HOST_MIN_INTERVAL_S": "0",
        },
    )
    yield started
    started.stop()


def _wait_for(condition, what: str, worker: CeleryWorker) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        if condition():
            return
        worker.assert_alive()
        time.sleep(0.2)
    pytest.fail(f"{what} not reached after {TIMEOUT_S}s:\n{worker.output()}")


def test_a_worker_runs_the_scheduled_poll(worker, site, agency, alice) -> None:  # type: ignore[no-untyped-def]
    ArtistFactory(agency=agency, stage_name="Seori", name_hangul="서리", name_latin="")
    for name, kind, path, extra in [
        ("Clip feed", "feed", "/feed.xml", {}),
        ("Leaks channel", "telegram", "/s/kfake_leaks", {}),
    ]:
        watched_source_save(
            agency=agency,
            actor=alice,
            name=name,
            kind=kind,
            url=site.url(path),
            interval_minutes=60,
            **extra,
        )
    watched_sources_poll_due_task.delay()
    polled = WatchedSource.objects.filter(last_result__contains="new items")
    _wait_for(lambda: polled.count() == 2, "both sources polled", worker)
    found = set(
        Finding.objects.filter(source=FindingSource.MONITOR).values_list("canonical_url", flat=True)
    )
    assert found == {
        "https://videos.example/watch/seori-1",
        "https://clips.example/v/2",
        "https://t.me/kfake_leaks/12",
    }

    WatchedSource.objects.update(next_due_at=timezone.now())
    watched_sources_poll_due_task.delay()
    feed = WatchedSource.objects.filter(name="Clip feed", last_result="not modified (304)")
    _wait_for(feed.exists, "the feed's 304", worker)
    assert Finding.objects.count() == 3
