"""Logins and logouts go into the audit trail of the user's agency; after `migrate`, notices
wrongly marked sent by old code are reclassified through it."""

from __future__ import annotations

import sys
from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db import DEFAULT_DB_ALIAS, transaction
from django.dispatch import receiver

from cases.models import Membership
from cases.services.audit import audit_record
from cases.services.notice_reclassify import migrations_complete, notices_reclassify_unsubmitted


def _record(user: Any, action: str, request: Any) -> None:
    membership = (
        Membership.objects.select_related("agency").filter(user=user).first() if user else None
    )
    if membership is None:
        return
    ip = request.META.get("REMOTE_ADDR", "") if request is not None else ""
    with transaction.atomic():
        audit_record(agency=membership.agency, actor=user, action=action, data={"ip": ip})


@receiver(user_logged_in)
def on_login(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    _record(user, "user.login", request)


@receiver(user_logged_out)
def on_logout(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    _record(user, "user.logout", request)


def reclassify_after_migrate(sender: Any, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    """post_migrate of the cases app (connected in CasesConfig.ready): put the notices the old
    code wrongly marked sent back to awaiting submission, through the audit trail. A no-op
    once done; skipped until the database is fully migrated."""
    # The audit service writes to the default database only.
    if using != DEFAULT_DB_ALIAS or not migrations_complete(using):
        return
    moved = notices_reclassify_unsubmitted()
    if moved and kwargs.get("verbosity", 1) >= 1:
        stdout = kwargs.get("stdout") or sys.stdout
        stdout.write(f"  Put {moved} unsubmitted web-form notice(s) back to awaiting submission.\n")
