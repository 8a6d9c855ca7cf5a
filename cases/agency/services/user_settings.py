"""A staff member's own preferences and API token."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction
from rest_framework.authtoken.models import Token

from cases.kernel.audit.services import audit_record
from cases.kernel.models import Membership


def membership_set_always_blur(*, membership: Membership, always_blur: bool) -> Membership:
    """Keep all media blurred (or not) for this member; audited since it governs exposure."""
    with transaction.atomic():
        if membership.always_blur != always_blur:
            membership.always_blur = always_blur
            membership.save(update_fields=["always_blur"])
            audit_record(
                agency=membership.agency,
                actor=membership.user,
                action="membership.preferences_changed",
                obj=membership,
                data={"always_blur": always_blur},
            )
    return membership


def api_token_rotate(*, membership: Membership) -> Token:
    """Create the member's API token, or replace it (the old one stops working at once).
    The caller shows the key once; the audit event never contains it."""
    user: User = membership.user
    with transaction.atomic():
        replaced = Token.objects.filter(user=user).delete()[0] > 0
        token = Token.objects.create(user=user)
        audit_record(
            agency=membership.agency,
            actor=user,
            action="api_token.rotated" if replaced else "api_token.created",
            obj=membership,
        )
    return token


def api_token_revoke(*, membership: Membership) -> bool:
    """Delete the member's API token (it stops working at once). False if there was none."""
    user: User = membership.user
    with transaction.atomic():
        revoked = Token.objects.filter(user=user).delete()[0] > 0
        if revoked:
            audit_record(
                agency=membership.agency, actor=user, action="api_token.revoked", obj=membership
            )
    return revoked
