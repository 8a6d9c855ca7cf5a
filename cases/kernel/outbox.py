"""The transactional outbox: every background task is sent through it (docs/jobs.md).

`outbox_enqueue(task_name, **kwargs)` writes an `OutboxMessage` row in the caller's
transaction and registers an on_commit that publishes it at once. A rolled-back transaction
sends nothing; a broker that cannot be reached at commit costs the request nothing (a
warning in the log, the row stays unsent) and the sweep (`outbox_sweep`, beat every
OUTBOX_SWEEP_S and at worker start) publishes unsent rows oldest first when it is back.

Tasks are published by name (`send_task`; CELERY_TASK_ROUTES apply by name), so the
kernel imports no app. A message may be published twice (a crash between the publish and
the commit of `sent_at`): every task sent this way is idempotent; a job's claim refuses a
job that is finished and a second run of a job its live worker runs (cases.kernel.jobs).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import F, QuerySet
from django.utils import timezone
from django.utils.module_loading import import_string
from django.utils.translation import gettext_lazy

from cases.kernel.models import OutboxMessage
from cases.kernel.requestid import request_id_bound, request_id_get

log = logging.getLogger(__name__)

# What a page says when the work it queued could not be sent yet.
QUEUED_OFFLINE = gettext_lazy("Queued; it starts when the workers are reachable.")
ERROR_MAX_CHARS = 2000


def _app() -> Any:
    from celery import current_app

    return current_app


def outbox_enqueue(task_name: str, *, countdown: int | None = None, **kwargs: Any) -> OutboxMessage:
    """Queue one task: a row now, published when the caller's transaction commits."""
    return outbox_enqueue_many(task_name, [kwargs], countdown=countdown)[0]


def outbox_enqueue_many(
    task_name: str, kwargs_list: Iterable[Mapping[str, Any]], *, countdown: int | None = None
) -> list[OutboxMessage]:
    """Queue one task per kwargs (a re-check of many findings): one insert, one publish
    after commit."""
    request_id = request_id_get()
    rows = OutboxMessage.objects.bulk_create(
        [
            OutboxMessage(
                task=task_name, kwargs=dict(kw), countdown=countdown, request_id=request_id
            )
            for kw in kwargs_list
        ],
        batch_size=500,
    )
    if rows:
        transaction.on_commit(partial(outbox_publish, [row.pk for row in rows]))
    return rows


def outbox_pending(task_name: str, **kwargs: Any) -> bool:
    """Whether a message for this task and these kwargs waits unsent (the broker was down)."""
    return OutboxMessage.objects.filter(sent_at=None, task=task_name, kwargs=kwargs).exists()


def _send(row: OutboxMessage) -> None:
    app = _app()
    with request_id_bound(row.request_id):
        # No retries here: a request must not wait for a broker that is down; the sweep
        # sends the row later.
        app.send_task(row.task, kwargs=row.kwargs, countdown=row.countdown, retry=False)


def _run_eager(row: OutboxMessage) -> None:
    """CELERY_TASK_ALWAYS_EAGER (tests, a development setting): run the task here, as
    `.delay()` would, outside any transaction; its errors propagate."""
    app = _app()
    task = app.tasks.get(row.task) or import_string(row.task)
    with request_id_bound(row.request_id):
        if row.countdown is None:
            task.delay(**row.kwargs)
        else:
            task.apply_async(kwargs=row.kwargs, countdown=row.countdown)


@dataclass
class PublishReport:
    sent: int = 0
    error: str = ""


def _publish_batch(query: QuerySet[OutboxMessage], *, limit: int) -> PublishReport:
    """Publish up to `limit` unsent rows of `query`, oldest first, each under its row lock
    (rows another publisher holds are skipped). Stops at the first broker error: the row
    keeps its error and attempt, the rest wait for the next sweep."""
    report = PublishReport()
    eager = bool(_app().conf.task_always_eager)
    with transaction.atomic():
        rows = list(
            query.filter(sent_at=None)
            .select_for_update(skip_locked=True)
            .order_by("created_at", "pk")[:limit]
        )
        sent: list[int] = []
        for row in rows:
            if not eager:
                try:
                    _send(row)
                except Exception as exc:
                    report.error = f"{type(exc).__name__}: {exc}"[:ERROR_MAX_CHARS]
                    OutboxMessage.objects.filter(pk=row.pk).update(
                        attempts=F("attempts") + 1, last_error=report.error
                    )
                    break
            sent.append(row.pk)
        if sent:
            OutboxMessage.objects.filter(pk__in=sent).update(
                sent_at=timezone.now(), attempts=F("attempts") + 1, last_error=""
            )
        report.sent = len(sent)
    if eager:
        for row in rows[: report.sent]:
            _run_eager(row)
    return report


def outbox_publish(ids: list[int]) -> PublishReport:
    """Publish these rows now (the on_commit of outbox_enqueue). Never raises for a broker
    error: the request that queued the work answers normally and the sweep sends it."""
    report = PublishReport()
    for start in range(0, len(ids), settings.OUTBOX_BATCH):
        batch = _publish_batch(
            OutboxMessage.objects.filter(pk__in=ids[start : start + settings.OUTBOX_BATCH]),
            limit=settings.OUTBOX_BATCH,
        )
        report.sent += batch.sent
        if batch.error:
            report.error = batch.error
            log.warning(
                "outbox: the broker is unreachable (%s); %s message(s) wait for the sweep",
                batch.error,
                len(ids) - report.sent,
            )
            break
    return report


@dataclass
class SweepReport:
    sent: int = 0
    pruned: int = 0
    error: str = ""


def outbox_sweep(*, now: datetime | None = None, max_batches: int = 100) -> SweepReport:
    """Publish unsent rows oldest first in batches (beat, and at worker start), then delete
    rows sent longer than OUTBOX_RETENTION ago."""
    report = SweepReport()
    for _batch in range(max_batches):
        batch = _publish_batch(OutboxMessage.objects.all(), limit=settings.OUTBOX_BATCH)
        report.sent += batch.sent
        if batch.error:
            report.error = batch.error
            log.warning("outbox sweep: the broker is unreachable (%s)", batch.error)
            break
        if batch.sent < settings.OUTBOX_BATCH:
            break
    now = now or timezone.now()
    retention: timedelta = settings.OUTBOX_RETENTION
    report.pruned, _ = OutboxMessage.objects.filter(sent_at__lt=now - retention).delete()
    if report.sent:
        log.info("outbox sweep: sent %s message(s)", report.sent)
    return report


def outbox_unsent_count() -> int:
    return OutboxMessage.objects.filter(sent_at=None).count()


def outbox_oldest_unsent() -> datetime | None:
    oldest: datetime | None = OutboxMessage.objects.filter(sent_at=None).aggregate(
        m=models.Min("created_at")
    )["m"]
    return oldest
