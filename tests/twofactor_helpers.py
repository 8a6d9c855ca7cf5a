"""Codes an authenticator app would show, computed the way the app does (RFC 6238)."""

from __future__ import annotations

import time
from base64 import b32decode

from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice


def totp_code(key: bytes, *, steps_ahead: int = 0) -> str:
    """The 6-digit code for now, or for a later 30-second step (django-otp accepts one step
    of drift, so a test need not wait for the next step to log in again)."""
    totp = TOTP(key, step=30, t0=0, digits=6, drift=0)
    totp.time = time.time() + 30 * steps_ahead
    return f"{totp.token():06d}"


def device_code(device: TOTPDevice, *, steps_ahead: int = 0) -> str:
    return totp_code(device.bin_key, steps_ahead=steps_ahead)


def secret_key(text: str) -> bytes:
    """The key from the secret as the enrolment page shows it (base32 in groups of four)."""
    compact = "".join(text.split()).upper()
    return b32decode(compact + "=" * (-len(compact) % 8))


def enrol(user) -> tuple[TOTPDevice, list[str]]:  # type: ignore[no-untyped-def]
    """An enrolled user (through the service, as the enrolment page does): the device and
    the recovery codes."""
    from cases.agency.services.twofactor import twofactor_enrol_confirm, twofactor_enrol_start

    device = twofactor_enrol_start(user=user)
    codes = twofactor_enrol_confirm(user=user, device=device, code=device_code(device))
    assert codes is not None
    device.refresh_from_db()
    return device, codes
