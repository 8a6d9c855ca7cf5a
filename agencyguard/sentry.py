"""Optional error reporting through Sentry (or a Sentry-compatible service such as
GlitchTip), initialised only when SENTRY_DSN is set (docs/deploy.md "Error reporting")."""

from __future__ import annotations

from typing import Any

from cases.kernel.requestid import request_id_get


def _tag_request_id(event: Any, hint: Any) -> Any:
    """Name the request id (the X-Request-ID and the log lines' `request_id`) on events."""
    if request_id := request_id_get():
        event.setdefault("tags", {})["request_id"] = request_id
    return event


def sentry_init(*, dsn: str, environment: str, traces_sample_rate: float) -> None:
    """Report unhandled errors of web requests and Celery tasks. No personal data: no
    user names, addresses, cookies or request bodies (send_default_pii off)."""
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        integrations=[DjangoIntegration(), CeleryIntegration()],
        send_default_pii=False,
        traces_sample_rate=traces_sample_rate,
        before_send=_tag_request_id,
    )
