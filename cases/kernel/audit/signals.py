"""Logins and logouts go into the audit trail of the user's agency."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db import transaction
from django.dispatch import receiver

from cases.kernel.audit.services import audit_record
from cases.kernel.models import Membership
from cases.kernel.net.clientip import client_ip


def _record(user: Any, action: str, request: Any) -> None:
    membership = (
        Membership.objects.select_related("agency").filter(user=user).first() if user else None
    )
    if membership is None:
        return
    # The client's address behind the trusted proxies, not the proxy's (TRUSTED_PROXY_COUNT).
    ip = (client_ip(request) or "") if request is not None else ""
    with transaction.atomic():
        audit_record(agency=membership.agency, actor=user, action=action, data={"ip": ip})


@receiver(user_logged_in)
def on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    _record(user, "user.login", request)


@receiver(user_logged_out)
def on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    _record(user, "user.logout", request)
