"""Liveness and readiness probes for load balancers and orchestrators (docs/deploy.md
"Health checks"). Public, no login, no agency data, not rate-limited.

- /healthz: the process answers. Never touches the database, the cache or the broker, so a
  database outage does not get healthy web processes restarted.
- /readyz: this process can serve: the database answers a cheap query, the cache round-trips
  a value, the broker answers a ping when it is Redis, and no migration is unapplied. The body
  names each check and its status (never the error: that goes to the log); 200 when every
  check passes, 503 otherwise."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

logger = logging.getLogger(__name__)

OK = "ok"
FAILED = "failed"
SKIPPED = "skipped"  # not applicable here, e.g. the broker is not Redis
BROKER_TIMEOUT_S = 2.0
CACHE_KEY = "agencyguard:readyz"

# Set once no migration is pending: migrations only appear with new code (a new process).
_migrations_applied = False


def _check_database() -> str:
    with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return OK


def _check_cache() -> str:
    token = secrets.token_hex(8)
    cache.set(CACHE_KEY, token, timeout=30)
    return OK if cache.get(CACHE_KEY) == token else FAILED


def _check_broker() -> str:
    url: str = settings.CELERY_BROKER_URL
    if not url.startswith(("redis://", "rediss://")):
        return SKIPPED  # kombu's filesystem broker (one machine) has nothing to ping
    import redis  # only a Redis broker needs the client

    client = redis.Redis.from_url(
        url, socket_connect_timeout=BROKER_TIMEOUT_S, socket_timeout=BROKER_TIMEOUT_S
    )
    try:
        return OK if client.ping() else FAILED
    finally:
        client.close()


def _check_migrations() -> str:
    global _migrations_applied
    if _migrations_applied:
        return OK
    executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        return "pending"
    _migrations_applied = True
    return OK


CHECKS: dict[str, Callable[[], str]] = {
    "database": _check_database,
    "cache": _check_cache,
    "broker": _check_broker,
    "migrations": _check_migrations,
}


def health_readiness() -> dict[str, str]:
    """Each check's status by name; an exception is a failure, logged with its cause."""
    results = {}
    for name, check in CHECKS.items():
        try:
            results[name] = check()
        except Exception:
            logger.warning("readiness check %s failed", name, exc_info=True)
            results[name] = FAILED
    return results


@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok", content_type="text/plain; charset=utf-8")


@never_cache
@require_safe
def readyz(request: HttpRequest) -> HttpResponse:
    checks = health_readiness()
    ready = all(status in (OK, SKIPPED) for status in checks.values())
    return JsonResponse(
        {"status": OK if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )
