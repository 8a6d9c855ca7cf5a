"""Prometheus metrics at /metrics, for authorised scrapers only (docs/deploy.md "Metrics").

- Requests: `agencyguard_http_requests_total{method,view,status}` and
  `agencyguard_http_request_duration_seconds{method,view}` (the URL pattern's name, never
  the path, so ids do not multiply the series), counted by RequestMetricsMiddleware.
- At each scrape, from the broker and the database: `agencyguard_queue_depth{queue}` (Redis:
  the length of each Celery queue; the filesystem broker: its message files),
  `agencyguard_jobs{type,status}` (every background job type, captures included: finished,
  failed, queued, running...), `agencyguard_notices{status}`. Database counts are cached
  for METRICS_DB_CACHE_S per process, so a scrape costs a few GROUP BY queries at most.

Every number is an aggregate over all agencies: no label names an agency, a user or a URL.

With several gunicorn processes the request counters live in files under
PROMETHEUS_MULTIPROC_DIR (prometheus-client's multiprocess mode; set it before the
processes start, empty at start), so any process answers for all of them."""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DatabaseError
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from cases.kernel.jobs import job_types
from cases.notices.models import Notice

log = logging.getLogger(__name__)

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
BROKER_TIMEOUT_S = 2.0
# kombu's Redis transport keeps a queue's prioritised messages in sibling lists.
REDIS_PRIORITY_STEPS = (0, 3, 6, 9)
REDIS_PRIORITY_SEP = "\x06\x16"

HTTP_REQUESTS = Counter(
    "agencyguard_http_requests",
    "HTTP requests answered, by method, URL pattern name and status code.",
    ["method", "view", "status"],
)
HTTP_DURATION = Histogram(
    "agencyguard_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and URL pattern name.",
    ["method", "view"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)


class RequestMetricsMiddleware:
    """Counts and times every request (second in MIDDLEWARE, so it sees the final status)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        method = request.method if request.method in METHODS else "other"
        match = request.resolver_match
        view = (match.view_name or "unnamed") if match else "unresolved"
        HTTP_REQUESTS.labels(method, view, str(response.status_code)).inc()
        HTTP_DURATION.labels(method, view).observe(time.perf_counter() - started)
        return response


# --- measured at scrape time --------------------------------------------------------


def celery_queues() -> list[str]:
    """Every queue a task is routed to, and the default one."""
    routes: dict[str, dict[str, str]] = settings.CELERY_TASK_ROUTES
    names = {route["queue"] for route in routes.values() if "queue" in route}
    return sorted({settings.CELERY_TASK_DEFAULT_QUEUE, *names})


def queue_depths() -> dict[str, int] | None:
    """Messages waiting per queue; None when the broker cannot say (AMQP) or is down."""
    url: str = settings.CELERY_BROKER_URL
    queues = celery_queues()
    if url.startswith(("redis://", "rediss://")):
        import redis

        client = redis.Redis.from_url(
            url, socket_connect_timeout=BROKER_TIMEOUT_S, socket_timeout=BROKER_TIMEOUT_S
        )
        try:
            pipe = client.pipeline(transaction=False)
            for queue in queues:
                for step in REDIS_PRIORITY_STEPS:
                    pipe.llen(queue if not step else f"{queue}{REDIS_PRIORITY_SEP}{step}")
            lengths = pipe.execute()
        except redis.RedisError:
            log.warning("metrics: cannot read queue lengths from the broker", exc_info=True)
            return None
        finally:
            client.close()
        per = len(REDIS_PRIORITY_STEPS)
        return {q: sum(lengths[i * per : (i + 1) * per]) for i, q in enumerate(queues)}
    if url == "filesystem://":
        # kombu names each message file "<time>_<uuid>.<queue>.msg".
        folder = Path(str(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"]))
        names = [p.name.partition(".")[2] for p in folder.iterdir()]
        return {queue: names.count(f"{queue}.msg") for queue in queues}
    return None


def database_counts() -> dict[str, dict[tuple[str, str], int]]:
    """Jobs by (type, status) and notices by ("", status): one GROUP BY per table."""
    jobs: dict[tuple[str, str], int] = {}
    for model in job_types():
        for row in model._default_manager.order_by().values("status").annotate(n=Count("pk")):
            jobs[(model._meta.model_name or "", row["status"])] = row["n"]
    notices = {
        ("", row["status"]): row["n"]
        for row in Notice.objects.order_by().values("status").annotate(n=Count("pk"))
    }
    return {"jobs": jobs, "notices": notices}


_cache: dict[str, Any] = {"at": None, "counts": None}


def database_counts_cached() -> dict[str, dict[tuple[str, str], int]]:
    now = time.monotonic()
    if _cache["at"] is None or now - _cache["at"] >= settings.METRICS_DB_CACHE_S:
        _cache["counts"] = database_counts()
        _cache["at"] = now
    counts: dict[str, dict[tuple[str, str], int]] = _cache["counts"]
    return counts


class AppCollector(Collector):
    """Queue depths and row counts, measured when scraped."""

    def collect(self) -> Iterator[Metric]:
        depths = queue_depths()
        available = GaugeMetricFamily(
            "agencyguard_queue_depth_available",
            "1 when the broker reports queue lengths (Redis, filesystem), else 0.",
        )
        available.add_metric([], 1 if depths is not None else 0)
        yield available
        depth = GaugeMetricFamily(
            "agencyguard_queue_depth", "Messages waiting in each Celery queue.", labels=["queue"]
        )
        for queue, n in (depths or {}).items():
            depth.add_metric([queue], n)
        yield depth

        try:
            counts = database_counts_cached()
        except DatabaseError:
            log.warning("metrics: cannot count jobs and notices", exc_info=True)
            counts = None
        readable = GaugeMetricFamily(
            "agencyguard_database_counts_available",
            "1 when the job and notice counts below could be read from the database, else 0.",
        )
        readable.add_metric([], 1 if counts is not None else 0)
        yield readable
        if counts is None:
            return
        jobs = GaugeMetricFamily(
            "agencyguard_jobs",
            "Background jobs (captures, detection runs, dossiers, imports) by type and status.",
            labels=["type", "status"],
        )
        for (kind, status), n in sorted(counts["jobs"].items()):
            jobs.add_metric([kind, status], n)
        yield jobs
        notices = GaugeMetricFamily(
            "agencyguard_notices", "Takedown notices by status.", labels=["status"]
        )
        for (_, status), n in sorted(counts["notices"].items()):
            notices.add_metric([status], n)
        yield notices


def metrics_text() -> bytes:
    """The exposition text: request metrics (of every process in multiprocess mode), the
    process's own, then the scrape-time ones."""
    if os.getenv("PROMETHEUS_MULTIPROC_DIR"):
        processes = CollectorRegistry()
        MultiProcessCollector(processes)
        text = generate_latest(processes)
    else:
        text = generate_latest(REGISTRY)
    app = CollectorRegistry(auto_describe=False)
    app.register(AppCollector())
    return text + generate_latest(app)


def _bearer(request: HttpRequest) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Only for a scraper holding METRICS_TOKEN: 404 when none is configured, 401 without
    a bearer token, 403 with a wrong one. A logged-in session is not enough."""
    expected: str = settings.METRICS_TOKEN
    if not expected:
        raise Http404
    token = _bearer(request)
    if token is None:
        response = HttpResponse("bearer token required\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if not hmac.compare_digest(token.encode(), expected.encode()):
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)
