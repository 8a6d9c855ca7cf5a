"""System checks of the deployment settings the kernel relies on (registered when
cases.wiring imports this module). Like the audit key check (cases.kernel.audit.keys), they
are Errors only with DEBUG off, and run with every check, so `manage.py check --deploy`
(`make check-deploy`) and `migrate` fail instead of starting the app on a public secret."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

# Django's own thresholds (django.core.checks.security.base, W009), made an Error here.
SECRET_KEY_MIN_LENGTH = 50
SECRET_KEY_MIN_UNIQUE_CHARACTERS = 5
# Published keys: settings.DEV_SECRET_KEY, Django's startproject prefix, docker/env.example.
PUBLIC_KEY_MARKERS = ("insecure", "change-me")


def _secret_key_problem() -> str | None:
    try:
        key: str = settings.SECRET_KEY
    except ImproperlyConfigured:  # an empty SECRET_KEY
        return "SECRET_KEY is not set"
    if not key:
        return "SECRET_KEY is not set"
    if key == getattr(settings, "DEV_SECRET_KEY", None) or any(
        marker in key.lower() for marker in PUBLIC_KEY_MARKERS
    ):
        return "SECRET_KEY is a published development or placeholder key"
    if len(key) < SECRET_KEY_MIN_LENGTH or len(set(key)) < SECRET_KEY_MIN_UNIQUE_CHARACTERS:
        return (
            f"SECRET_KEY is shorter than {SECRET_KEY_MIN_LENGTH} characters or has fewer than "
            f"{SECRET_KEY_MIN_UNIQUE_CHARACTERS} distinct characters"
        )
    return None


@register()
def secret_key_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """With DEBUG off, a missing, public or weak SECRET_KEY stops the app: sessions, password
    reset tokens and signed values would be forgeable by anyone who read the source."""
    if settings.DEBUG:
        return []
    problem = _secret_key_problem()
    if problem is None:
        return []
    return [
        Error(
            f"{problem} (DEBUG is off).",
            hint="Set SECRET_KEY from your secret store: "
            "python -c 'import secrets; print(secrets.token_urlsafe(64))' (docs/deploy.md).",
            id="cases.E110",
        )
    ]


@register()
def capture_loopback_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """The loopback switch lets captures reach 127.0.0.1 (the test suites' local site); in
    production it would open the host's own services to any suspect URL."""
    if settings.DEBUG or not settings.CAPTURE_ALLOW_LOOPBACK_FOR_TESTS:
        return []
    return [
        Error(
            "CAPTURE_ALLOW_LOOPBACK_FOR_TESTS is on with DEBUG off: captures could reach "
            "services on this host.",
            hint="Unset CAPTURE_ALLOW_LOOPBACK_FOR_TESTS; it is for test suites only.",
            id="cases.E111",
        )
    ]
