"""/readyz against a real Redis as broker and cache (the compose setup): every check is
pinged for real and passes. Like the other integration tests this skips without Redis, and
fails in CI (CI=true or AG_REQUIRE_SERVICES=1) when Redis is missing."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from cases.kernel import health
from tests.conftest import require_service
from tests.integration.test_worker import _redis_available, _redis_url

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_readyz_pings_a_real_redis_broker_and_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    url = _redis_url()
    require_service(
        _redis_available(url), f"Redis is not reachable at {url} (set AG_TEST_REDIS_URL)"
    )
    monkeypatch.setattr(health, "_migrations_applied", False)
    caches = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
    }
    with override_settings(CELERY_BROKER_URL=url, CACHES=caches):
        response = Client().get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "cache": "ok", "broker": "ok", "migrations": "ok"},
    }
