"""Deploy checks: with DEBUG off the app must not run on a public SECRET_KEY, nor with the
capture test switch (loopback) on. Each is a system check Error, so `check --deploy` fails."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import override_settings

from cases.kernel.checks import capture_loopback_check, secret_key_check

ROOT = Path(__file__).resolve().parents[2]
GOOD_KEY = secrets.token_urlsafe(64)


def _ids(errors: list) -> list[str]:  # type: ignore[type-arg]
    return [error.id for error in errors if error.is_serious()]


@pytest.mark.parametrize(
    "key",
    [
        pytest.param(django_settings.DEV_SECRET_KEY, id="published-dev-default"),
        pytest.param("", id="empty"),
        pytest.param("short-but-random-Xy7", id="short"),
        pytest.param("a" * 60, id="too-few-distinct-characters"),
        pytest.param("django-insecure-" + "x1y2z3" * 10, id="django-insecure"),
        pytest.param(
            "change-me-to-50-or-more-random-characters-python-secrets-token-urlsafe",
            id="env-example-placeholder",
        ),
    ],
)
def test_a_public_or_weak_secret_key_is_an_error_with_debug_off(key: str) -> None:
    with override_settings(DEBUG=False, SECRET_KEY=key):
        assert _ids(secret_key_check()) == ["cases.E110"]


def test_a_strong_secret_key_passes_and_debug_on_allows_the_dev_key() -> None:
    with override_settings(DEBUG=False, SECRET_KEY=GOOD_KEY):
        assert secret_key_check() == []
    with override_settings(DEBUG=True, SECRET_KEY=django_settings.DEV_SECRET_KEY):
        assert secret_key_check() == []


def test_the_capture_loopback_switch_is_an_error_with_debug_off() -> None:
    with override_settings(DEBUG=False, CAPTURE_ALLOW_LOOPBACK_FOR_TESTS=True):
        assert _ids(capture_loopback_check()) == ["cases.E111"]
    with override_settings(DEBUG=False, CAPTURE_ALLOW_LOOPBACK_FOR_TESTS=False):
        assert capture_loopback_check() == []
    with override_settings(DEBUG=True, CAPTURE_ALLOW_LOOPBACK_FOR_TESTS=True):
        assert capture_loopback_check() == []


def _check_deploy(**overrides: str) -> subprocess.CompletedProcess[str]:
    """`manage.py check --deploy` with the environment `make check-deploy` gives it."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "SECRET_KEY",
            "DATABASE_URL",
            "CAPTURE_ALLOW_LOOPBACK_FOR_TESTS",
            "DJANGO_ALLOW_ASYNC_UNSAFE",  # set by the browser tests for their own thread
        }
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "agencyguard.settings",
            "DEBUG": "0",
            "SECRET_KEY": GOOD_KEY,
            "AUDIT_HMAC_KEYS": "ci=" + secrets.token_urlsafe(48),
            "ALLOWED_HOSTS": "example.org",
            "CSRF_TRUSTED_ORIGINS": "https://example.org",
            "SITE_URL": "https://example.org",
            "SECURE_SSL_REDIRECT": "1",
            "SECURE_HSTS_SECONDS": "31536000",
            "CELERY_BROKER_URL": "redis://127.0.0.1:6379/0",
            "CACHE_URL": "redis://127.0.0.1:6379/1",
        }
    )
    env.update(overrides)
    for key in [key for key, value in env.items() if value == "<unset>"]:
        del env[key]
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_fails_without_a_secret_key_and_passes_with_one() -> None:
    failed = _check_deploy(SECRET_KEY="<unset>")
    assert failed.returncode != 0
    assert "cases.E110" in failed.stderr
    assert "SECRET_KEY" in failed.stderr

    looped = _check_deploy(CAPTURE_ALLOW_LOOPBACK_FOR_TESTS="1")
    assert looped.returncode != 0
    assert "cases.E111" in looped.stderr

    passed = _check_deploy()
    assert passed.returncode == 0, passed.stderr
