"""The Celery app. Queues: capture, detection, reports, default (see docs/deploy.md).

Also the request id's trip through the broker (cases.kernel.requestid, docs/deploy.md
"Logs"): a message published while an id is bound carries it in its `request_id` header,
and the worker binds it while the task runs, so the task's log lines name the request that
queued it. Worker and beat log through LOGGING (agencyguard/settings/ops.py)."""

from __future__ import annotations

import logging.config
import os
from contextlib import AbstractContextManager
from typing import Any

from celery import Celery, Task
from celery.signals import before_task_publish, setup_logging, task_postrun, task_prerun

from cases.kernel.requestid import request_id_bound, request_id_get

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agencyguard.settings")

app = Celery("agencyguard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

REQUEST_ID_HEADER = "request_id"


@setup_logging.connect
def _logging_from_settings(**kwargs: Any) -> None:
    """Worker and beat use the web's log format (with a receiver here, Celery installs no
    handlers of its own)."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


@before_task_publish.connect
def _request_id_to_headers(headers: dict[str, Any] | None = None, **kwargs: Any) -> None:
    request_id = request_id_get()
    if request_id and headers is not None:
        headers.setdefault(REQUEST_ID_HEADER, request_id)


def task_request_id(task: Task) -> str:
    """The id the task's message carries: a worker exposes message headers as request
    attributes; an inline (`apply`) run keeps them under `headers`."""
    request = task.request
    value = getattr(request, REQUEST_ID_HEADER, None) or (request.headers or {}).get(
        REQUEST_ID_HEADER
    )
    return str(value or "")


# Bindings of the tasks running in this process, by task id (task_prerun -> task_postrun).
_bound: dict[str, AbstractContextManager[str]] = {}


@task_prerun.connect
def _request_id_bind(task_id: str = "", task: Task | None = None, **kwargs: Any) -> None:
    """Bind the message's id; without one, the id already bound (a task run inline by the
    request itself) or a fresh one, so every task log line has an id."""
    if task is None:
        return
    binding = request_id_bound(task_request_id(task) or request_id_get())
    binding.__enter__()
    _bound[task_id] = binding


@task_postrun.connect
def _request_id_unbind(task_id: str = "", **kwargs: Any) -> None:
    binding = _bound.pop(task_id, None)
    if binding is not None:
        binding.__exit__(None, None, None)
