"""Outbox dispatch lag: milliseconds from the commit of a transaction that queued a task
(cases.kernel.outbox.outbox_enqueue) to the broker publish of its message, broker up.

The broker is Redis when AG_TEST_REDIS_URL or a redis:// CELERY_BROKER_URL is set, else the
filesystem broker under the bench's VAR_DIR. The messages go to a queue of their own
(`bench-outbox`, deleted afterwards) under a task name no worker knows, so a worker on the
same Redis never sees them. The commit moment is taken by an on_commit callback registered
before the outbox's own (callbacks run in order, right after COMMIT); the publish moment by
Celery's after_task_publish signal."""

from __future__ import annotations

import os
import time

from common import emit, note, percentile, setup_django, summary

setup_django()

from celery.signals import after_task_publish  # noqa: E402
from django.db import transaction  # noqa: E402

from agencyguard.celery import app  # noqa: E402
from cases.kernel.models import OutboxMessage  # noqa: E402
from cases.kernel.outbox import outbox_enqueue  # noqa: E402

DISPATCHES = 300
WARMUP = 20
TASK = "bench.outbox_noop"
QUEUE = "bench-outbox"


def broker_url() -> str:
    for candidate in (os.getenv("AG_TEST_REDIS_URL", ""), os.getenv("CELERY_BROKER_URL", "")):
        if candidate.startswith(("redis://", "rediss://")):
            return candidate
    return ""


def main() -> None:
    url = broker_url()
    if url:
        app.conf.broker_url = url
        app.conf.broker_transport_options = {"socket_connect_timeout": 3, "max_retries": 0}
        app._pool = None
        app.amqp._producer_pool = None
    app.conf.task_always_eager = False
    app.conf.task_routes = {TASK: {"queue": QUEUE}}
    note(f"broker: {'redis' if url else 'filesystem'}")

    published: list[float] = []
    after_task_publish.connect(lambda **kwargs: published.append(time.perf_counter()), weak=False)
    lags: list[float] = []
    for n in range(WARMUP + DISPATCHES):
        committed: list[float] = []
        before = len(published)
        with transaction.atomic():
            transaction.on_commit(lambda c=committed: c.append(time.perf_counter()))
            outbox_enqueue(TASK, n=n)
        if len(published) != before + 1:
            raise SystemExit(f"dispatch {n} was not published (is the broker up?)")
        if n >= WARMUP:
            lags.append((published[-1] - committed[0]) * 1000)
    unsent = OutboxMessage.objects.filter(task=TASK, sent_at=None).count()
    OutboxMessage.objects.filter(task=TASK).delete()
    if url:
        import redis

        redis.Redis.from_url(url).delete(QUEUE)
    if unsent:
        raise SystemExit(f"{unsent} message(s) left unsent")
    note(f"commit -> publish lag (ms): {summary(lags)}")
    emit("outbox_dispatch_lag_p50", percentile(lags, 50), "ms")
    emit("outbox_dispatch_lag_p95", percentile(lags, 95), "ms")


if __name__ == "__main__":
    main()
