"""Fixtures shared by the tests that run real Celery workers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agencyguard.celery import app as celery_app


@pytest.fixture
def broker(redis_url: str) -> Iterator[str]:
    """Point this process's Celery app at the Redis broker (the settings say filesystem://)."""
    saved = {
        key: celery_app.conf[key]
        for key in ("broker_url", "broker_transport_options", "task_always_eager")
    }
    celery_app.conf.broker_url = redis_url
    celery_app.conf.broker_transport_options = {}
    celery_app.conf.task_always_eager = False
    _reset_producer_pools()
    yield redis_url
    for key, value in saved.items():
        celery_app.conf[key] = value
    _reset_producer_pools()


def _reset_producer_pools() -> None:
    # Celery caches its broker connection pools; drop them so the next send uses broker_url.
    # (Not force_close_all: kombu keeps pools in a global registry and would hand the closed
    # one back for the same URL.)
    celery_app._pool = None
    celery_app.amqp._producer_pool = None
