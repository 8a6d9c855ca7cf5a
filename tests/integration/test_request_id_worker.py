"""Done-when 5 end to end: a request queues an import through Redis, a real worker runs it,
and the worker's JSON log lines for that task carry the request's id."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from django.db import connection
from django.urls import reverse

from cases.intake.models import ImportJob, ImportJobStatus
from tests.conftest import require_service
from tests.integration.test_worker import _test_database_url, _wait_for_job, redis_url
from tests.integration.workers import CeleryWorker

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

PROXY_ID = "proxy-it-5b8e0c91"
__all__ = ["redis_url"]  # the module-scoped fixture, shared with test_worker


@pytest.fixture(scope="module")
def json_worker(django_db_setup, redis_url: str) -> Iterator[CeleryWorker]:  # type: ignore[no-untyped-def]
    require_service(
        connection.vendor == "postgresql",
        "a worker process needs a shared database: set DATABASE_URL to PostgreSQL",
    )
    worker = CeleryWorker(
        broker_url=redis_url, database_url=_test_database_url(), queues="default",
        name="rid", env={"LOG_FORMAT": "json"}, output_chars=200_000,
    )  # fmt: skip
    yield worker
    worker.stop()


def test_the_worker_logs_the_task_under_the_request_id(json_worker, broker, client, bob) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    response = client.post(
        reverse("import_create"),
        {"lines": "https://vimeo.com/request-id-1"},
        headers={"X-Request-ID": PROXY_ID},
    )
    assert response.status_code == 302
    assert response["X-Request-ID"] == PROXY_ID
    job = _wait_for_job(ImportJob.objects.get().pk, json_worker)
    assert job.status == ImportJobStatus.DONE, job.error

    lines = [json.loads(line) for line in json_worker.output().splitlines() if line.startswith("{")]
    mine = [line for line in lines if line["request_id"] == PROXY_ID]
    assert any("succeeded" in line["message"] for line in mine), lines[-20:]
    assert all(line["timestamp"] and line["level"] and line["logger"] for line in mine)
