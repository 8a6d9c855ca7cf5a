"""The login lockout (django-axes, AXES_HANDLER): axes' own lock per (user name, client
address), plus a lock per client address over all user names, so spraying one password
over many user names from one address stops after LOGIN_ADDRESS_FAILURE_LIMIT failures.

The per-address threshold is higher than the per-user one: several colleagues behind one
office address share it. Both are counted from axes' own AccessAttempt rows over the same
cool-off window (AXES_COOLOFF_TIME); the client address is cases.kernel.net.clientip's."""

from __future__ import annotations

from typing import Any

from axes.attempts import get_cool_off_threshold
from axes.handlers.database import AxesDatabaseHandler
from axes.models import AccessAttempt
from axes.signals import user_locked_out
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest

from cases.kernel.net.clientip import client_ip


def address_failures(request: HttpRequest) -> int:
    """Failed logins from the request's client address, any user name, within the cool-off."""
    address = getattr(request, "axes_ip_address", None) or client_ip(request)
    if not address:
        return 0
    total = AccessAttempt.objects.filter(
        ip_address=address, attempt_time__gte=get_cool_off_threshold(request)
    ).aggregate(total=Sum("failures_since_start"))["total"]
    return int(total or 0)


class LoginLockoutHandler(AxesDatabaseHandler):
    """Locked when axes says so (per user name and address), or when the address alone has
    reached its own limit."""

    def is_locked(self, request: Any, credentials: dict[str, Any] | None = None) -> bool:
        if super().is_locked(request, credentials):
            return True
        return address_failures(request) >= settings.LOGIN_ADDRESS_FAILURE_LIMIT

    def user_login_failed(
        self, sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
    ) -> None:
        """Axes records the failure and flags the request when the (user name, address)
        pair reached its limit; the address's own limit flags it the same way, so this
        failure already answers with the lockout page (AxesMiddleware)."""
        super().user_login_failed(sender, credentials, request, **kwargs)
        if request is None or getattr(request, "axes_locked_out", False):
            return
        if address_failures(request) >= settings.LOGIN_ADDRESS_FAILURE_LIMIT:
            request.axes_locked_out = True
            request.axes_credentials = credentials
            user_locked_out.send(
                "axes",
                request=request,
                username=credentials.get(getattr(settings, "AXES_USERNAME_FORM_FIELD", "username")),
                ip_address=request.axes_ip_address,
            )
