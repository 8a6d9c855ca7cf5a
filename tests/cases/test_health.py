"""/healthz and /readyz: public probes. Liveness never touches the database; readiness names
each check and answers 503 when one fails."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import OperationalError, connections
from django.test import Client, override_settings

from cases.kernel import health

UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture
def client() -> Client:
    return Client()


@pytest.fixture(autouse=True)
def _fresh_migration_check(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(health, "_migrations_applied", False)


def test_healthz_answers_with_database_access_forbidden(client: Client) -> None:
    """No django_db mark: any query would raise."""
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content == b"ok"
    assert "no-cache" in response["Cache-Control"]


@pytest.mark.django_db
def test_healthz_makes_no_query(client: Client, django_assert_num_queries) -> None:  # type: ignore[no-untyped-def]
    with django_assert_num_queries(0):
        assert client.get("/healthz").status_code == 200


@pytest.mark.django_db
def test_readyz_is_200_and_names_every_check_when_all_are_up(client: Client) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    # The test settings use the filesystem broker: nothing to ping.
    assert body["checks"] == {
        "database": "ok",
        "cache": "ok",
        "broker": "skipped",
        "migrations": "ok",
    }


def _boom(*args: Any, **kwargs: Any) -> None:
    raise OperationalError("connection refused")


@pytest.mark.django_db
def test_readyz_is_503_naming_the_database_when_it_is_unreachable(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(type(connections["default"]), "ensure_connection", _boom)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "failed"
    assert body["checks"]["cache"] == "ok"
    assert "connection refused" not in response.content.decode()  # causes go to the log


@pytest.mark.django_db
def test_readyz_is_503_naming_the_cache_when_it_is_unreachable(client: Client) -> None:
    unreachable = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": UNREACHABLE_REDIS,
        }
    }
    with override_settings(CACHES=unreachable):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"] == {
        "database": "ok",
        "cache": "failed",
        "broker": "skipped",
        "migrations": "ok",
    }


@pytest.mark.django_db
def test_readyz_is_503_naming_the_broker_when_redis_is_unreachable(client: Client) -> None:
    with override_settings(CELERY_BROKER_URL=UNREACHABLE_REDIS):
        response = client.get("/readyz")
    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["broker"] == "failed"
    assert checks["database"] == "ok"


@pytest.mark.django_db
def test_readyz_is_503_when_a_migration_is_unapplied(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def plan(self: Any, targets: Any, clean_start: bool = False) -> list[Any]:
        return [("a migration", False)]

    monkeypatch.setattr(health.MigrationExecutor, "migration_plan", plan)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["migrations"] == "pending"


@pytest.mark.django_db
@override_settings(
    DEBUG=False, SECURE_SSL_REDIRECT=True, ALLOWED_HOSTS=["example.org"], SESSION_COOKIE_SECURE=True
)
def test_the_probes_answer_plain_http_and_need_no_login(client: Client) -> None:
    """A probe from inside the container speaks HTTP to gunicorn: no redirect to HTTPS, none
    to the login page, and no session cookie."""
    for url in ("/healthz", "/readyz"):
        response = client.get(url, HTTP_HOST="example.org")
        assert response.status_code == 200, (url, response.status_code)
        assert not response.cookies
    assert client.get("/login/", HTTP_HOST="example.org").status_code == 301  # others redirect
