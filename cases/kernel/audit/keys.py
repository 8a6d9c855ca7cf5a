"""The secret keys of the audit chain, read from the environment and never from the database.

Every event stores the id of the key its HMAC was made with (AuditEvent.key_id), so keys can
be rotated: the verifier looks each id up in settings.AUDIT_HMAC_KEYS, and new events use
settings.AUDIT_HMAC_KEY_ID. Events written before the chain was keyed have key id "" and a
plain SHA-256 (see cases.kernel.audit.services and docs/audit.md)."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.core.checks import Error, register

LEGACY_KEY_ID = ""  # events written before keying: plain SHA-256, no secret
# Reserved for the public development key that settings.py supplies when DEBUG is on.
DEV_KEY_ID = "dev"
KEY_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,16}$")
MIN_KEY_LENGTH = 32


class AuditKeyError(Exception):
    """No usable key: none configured, or the current key id is not among them."""


def audit_keys() -> dict[str, bytes]:
    """Every configured key by id (the retired ones too: their events must still verify)."""
    return {key_id: secret.encode() for key_id, secret in settings.AUDIT_HMAC_KEYS.items()}


def audit_current_key() -> tuple[str, bytes]:
    """(id, key) new events are keyed with."""
    keys = audit_keys()
    key_id = settings.AUDIT_HMAC_KEY_ID
    if key_id not in keys:
        raise AuditKeyError(
            "no current audit key: set AUDIT_HMAC_KEYS (and AUDIT_HMAC_KEY_ID) in the environment"
        )
    return key_id, keys[key_id]


@register()
def audit_keys_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """With DEBUG off the chain must be keyed with a real secret, or the app does not start."""
    configured: dict[str, str] = settings.AUDIT_HMAC_KEYS
    errors = [
        Error(
            f"audit key id {key_id!r} must be 1-16 letters, digits, '.', '_' or '-'.",
            id="cases.E101",
        )
        for key_id in configured
        if not KEY_ID_RE.match(key_id)
    ]
    if configured and settings.AUDIT_HMAC_KEY_ID not in configured:
        errors.append(
            Error(
                f"AUDIT_HMAC_KEY_ID {settings.AUDIT_HMAC_KEY_ID!r} is not in AUDIT_HMAC_KEYS.",
                id="cases.E103",
            )
        )
    if settings.DEBUG:
        return errors
    if not configured:
        errors.append(
            Error(
                "AUDIT_HMAC_KEYS is not set: the audit chain would have no secret key.",
                hint="Set AUDIT_HMAC_KEYS='<id>=<secret>' from your secret store (docs/audit.md).",
                id="cases.E100",
            )
        )
    for key_id, secret in configured.items():
        if key_id == DEV_KEY_ID or len(secret) < MIN_KEY_LENGTH:
            errors.append(
                Error(
                    f"audit key {key_id!r} is the public development key or shorter than "
                    f"{MIN_KEY_LENGTH} characters.",
                    hint="Generate one: python -c 'import secrets; print(secrets.token_urlsafe(48))'.",
                    id="cases.E102",
                )
            )
    return errors
