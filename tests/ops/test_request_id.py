"""The request id: taken from the proxy or made, returned in X-Request-ID, carried by every
message the request queues, bound while the task runs, and named by the task's log lines."""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest
from celery.app.trace import build_tracer
from django.urls import reverse
from kombu.messaging import Producer

from agencyguard.celery import app as celery_app
from agencyguard.logs import RequestIdFilter, json_formatter
from cases.kernel.requestid import request_id_bound, request_id_get, request_id_valid

PROXY_ID = "proxy-7f3a9c2e41d8"
seen: list[str] = []
task_log = logging.getLogger("tests.ops.task")


@celery_app.task(name="tests.ops.record_request_id")
def record_request_id() -> None:
    seen.append(request_id_get())
    task_log.warning("inside the task")


@pytest.fixture
def task_log_lines() -> Any:
    """What the task logs, through the production filter and JSON formatter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(json_formatter())
    task_log.addHandler(handler)
    seen.clear()
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    task_log.removeHandler(handler)


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Messages really published (eager mode off), recorded instead of sent."""
    messages: list[dict[str, Any]] = []

    def publish(self: Producer, body: Any, **kwargs: Any) -> None:
        messages.append(kwargs.get("headers") or {})

    monkeypatch.setattr(Producer, "publish", publish)
    celery_app.conf.task_always_eager = False
    yield messages
    celery_app.conf.task_always_eager = True


def run_as_worker(headers: dict[str, Any]) -> None:
    """Run the test task the way a worker does: the message headers are the request."""
    tracer = build_tracer(record_request_id.name, record_request_id, app=celery_app)
    tracer(headers["id"], (), {}, {**headers, "task": record_request_id.name})


@pytest.mark.django_db
def test_every_response_names_a_fresh_request_id(client) -> None:  # type: ignore[no-untyped-def]
    first = client.get("/healthz")["X-Request-ID"]
    second = client.get("/healthz")["X-Request-ID"]
    assert request_id_valid(first)
    assert request_id_valid(second)
    assert first != second


@pytest.mark.django_db
def test_the_proxy_request_id_is_kept(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/healthz", headers={"X-Request-ID": PROXY_ID})
    assert response["X-Request-ID"] == PROXY_ID


@pytest.mark.django_db
@pytest.mark.parametrize("hostile", ["short", "two words here", 'a"b\\c-12345678', "x" * 200])
def test_a_malformed_request_id_is_replaced(client, hostile: str) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/healthz", headers={"X-Request-ID": hostile})
    assert response["X-Request-ID"] != hostile
    assert request_id_valid(response["X-Request-ID"])


def test_nothing_is_bound_outside_a_request() -> None:
    assert request_id_get() == ""


@pytest.mark.django_db(transaction=True)
def test_the_id_travels_from_the_request_into_the_task_it_queues(
    client, bob, published, task_log_lines
) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    response = client.post(
        reverse("import_create"),
        {"lines": "https://vimeo.com/1"},
        headers={"X-Request-ID": PROXY_ID},
    )
    assert response.status_code == 302
    assert response["X-Request-ID"] == PROXY_ID
    assert [m.get("task") for m in published] == ["cases.intake.tasks.import_job_run_task"]
    headers = published[0]
    assert headers["request_id"] == PROXY_ID

    # The worker side: the same message headers, a task that records what it sees.
    run_as_worker({**headers, "id": "task-1"})
    assert seen == [PROXY_ID]
    [line] = task_log_lines()
    assert line["request_id"] == PROXY_ID
    assert line["message"] == "inside the task"
    assert request_id_get() == ""  # unbound after the task


def test_a_message_published_outside_a_request_carries_no_id(published) -> None:  # type: ignore[no-untyped-def]
    record_request_id.delay()
    assert "request_id" not in published[0]


def test_a_task_without_an_id_gets_a_fresh_one_per_run(task_log_lines) -> None:  # type: ignore[no-untyped-def]
    run_as_worker({"id": "task-a"})
    run_as_worker({"id": "task-b"})
    first, second = seen
    assert request_id_valid(first)
    assert first != second
    assert [line["request_id"] for line in task_log_lines()] == [first, second]


def test_an_inline_task_keeps_the_id_of_the_code_that_ran_it(task_log_lines) -> None:  # type: ignore[no-untyped-def]
    with request_id_bound(PROXY_ID):
        record_request_id.apply()
        assert request_id_get() == PROXY_ID
    assert seen == [PROXY_ID]
    assert request_id_get() == ""
