"""System checks of the intake settings (registered when cases.wiring imports this module)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register
from django.core.exceptions import ImproperlyConfigured

from cases.kernel.ratelimit import rate_parse


@register()
def fan_report_rate_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """A FAN_REPORT_RATE that does not parse would fail every fan report at run time."""
    try:
        rate_parse(settings.FAN_REPORT_RATE)
    except ImproperlyConfigured as exc:
        return [
            Error(
                str(exc),
                hint="FAN_REPORT_RATE: e.g. 10/h, 5/10m or 10 per hour (docs/deploy.md).",
                id="cases.E151",
            )
        ]
    return []
