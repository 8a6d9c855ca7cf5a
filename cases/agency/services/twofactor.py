"""Two-factor login (django-otp): an authenticator app (TOTP) plus single-use recovery
codes. Enrolment, the second login step, new recovery codes and disabling are audited in
the user's agency; the agency-wide requirement is switched by an admin (audited too).

A TOTP code is accepted once: django-otp remembers the last accepted time step, so the same
code (or an older one) is refused afterwards. Recovery codes are deleted when used. Wrong
codes slow further attempts on the device down (django-otp's throttling, doubling delays)."""

from __future__ import annotations

from base64 import b32encode
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from cases.kernel.audit.services import audit_record
from cases.kernel.models import Agency, Membership
from cases.kernel.tenancy import membership_for

TOTP_NAME = "authenticator"
RECOVERY_NAME = "recovery codes"


def _audit(
    user: User, action: str, data: dict[str, object] | None = None, *, by_system: bool = False
) -> None:
    """Inside the caller's transaction; users without an agency (superusers) have no trail.
    The actor is the user, or the system for an operator's command."""
    membership = Membership.objects.select_related("agency").filter(user=user).first()
    if membership is not None:
        audit_record(
            agency=membership.agency,
            actor=None if by_system else user,
            action=action,
            obj=membership,
            data=data,
        )


def normalize_code(code: str) -> str:
    """Codes as people type them: spaces and dashes dropped, recovery codes lower-case."""
    return "".join(code.split()).replace("-", "").lower()[:32]


def twofactor_device(user: User) -> TOTPDevice | None:
    """The user's confirmed authenticator, if they enrolled one."""
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def twofactor_enabled(user: User) -> bool:
    return bool(TOTPDevice.objects.filter(user=user, confirmed=True).exists())


def twofactor_required(user: User) -> bool:
    """Admins (and superusers) always; everyone in an agency that switched it on."""
    if user.is_superuser:
        return True
    membership = membership_for(user)
    return membership is not None and (membership.is_admin or membership.agency.require_two_factor)


def recovery_codes_left(user: User) -> int:
    return int(StaticToken.objects.filter(device__user=user, device__confirmed=True).count())


def secret_text(device: TOTPDevice) -> str:
    """The secret as people type it into an app: base32 in groups of four."""
    secret = b32encode(device.bin_key).decode()
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def twofactor_enrol_start(*, user: User) -> TOTPDevice:
    """The unconfirmed authenticator being set up (the same one until it is confirmed, so a
    reload does not invalidate what the user already scanned)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-pk").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)
    return device


def _recovery_codes_replace(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(settings.TWO_FACTOR_RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=device, token=code) for code in codes)
    return codes


def twofactor_enrol_confirm(*, user: User, device: TOTPDevice, code: str) -> list[str] | None:
    """Activate the authenticator when `code` comes from it; returns the new recovery codes
    (shown once), or None when the code is wrong."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=user)
        if device.confirmed or not device.verify_token(normalize_code(code)):
            return None
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _recovery_codes_replace(user)
        _audit(user, "two_factor.enabled", {"recovery_codes": len(codes)})
    return codes


@dataclass(frozen=True)
class Verification:
    """The outcome of one second-step attempt: the device that accepted the code (None:
    refused), whether it was a recovery code, and how long to wait when throttled."""

    device: TOTPDevice | StaticDevice | None
    recovery: bool = False
    wait_seconds: int = 0


def _throttle_wait(device: TOTPDevice | StaticDevice) -> int:
    allowed, data = device.verify_is_allowed()
    if allowed or not data:
        return 0
    locked_until = data.get("locked_until")
    if locked_until is None:
        return 1
    return max(1, int((locked_until - timezone.now()).total_seconds()) + 1)


def twofactor_verify(*, user: User, code: str) -> Verification:
    """Check a code from the authenticator or one of the recovery codes (a recovery code
    is used up). Both are audited when they succeed; a used recovery code also when it fails
    is simply wrong (it no longer exists)."""
    code = normalize_code(code)
    if not code:
        return Verification(device=None)
    with transaction.atomic():
        totp = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
        if totp is not None and code.isdigit() and len(code) == totp.digits:
            wait = _throttle_wait(totp)
            if wait:
                return Verification(device=None, wait_seconds=wait)
            if totp.verify_token(code):
                _audit(user, "two_factor.verified")
                return Verification(device=totp)
            return Verification(device=None)
        static = StaticDevice.objects.select_for_update().filter(user=user, confirmed=True).first()
        if static is None:
            return Verification(device=None)
        wait = _throttle_wait(static)
        if wait:
            return Verification(device=None, wait_seconds=wait)
        if static.verify_token(code):
            left = static.token_set.count()
            _audit(user, "two_factor.recovery_code_used", {"recovery_codes_left": left})
            return Verification(device=static, recovery=True)
    return Verification(device=None)


def twofactor_recovery_regenerate(*, user: User) -> list[str]:
    """A fresh set of recovery codes; the old ones stop working at once."""
    with transaction.atomic():
        codes = _recovery_codes_replace(user)
        _audit(user, "two_factor.recovery_codes_regenerated", {"recovery_codes": len(codes)})
    return codes


def twofactor_disable(*, user: User, code: str) -> bool:
    """Remove the authenticator and the recovery codes, when `code` is a valid one of
    either. Returns False (and changes nothing) for a wrong code."""
    with transaction.atomic():
        if twofactor_verify(user=user, code=code).device is None:
            return False
        TOTPDevice.objects.filter(user=user).delete()
        StaticDevice.objects.filter(user=user).delete()
        _audit(user, "two_factor.disabled")
    return True


def twofactor_reset(*, user: User) -> bool:
    """The operator's way out for a user who lost both the phone and the recovery codes
    (`manage.py twofactor_reset NAME`, after checking who asks): every device is removed, so
    the user enrols again at the next login if their role requires it. Audited with the
    system as actor. Returns False when the user had nothing to remove."""
    with transaction.atomic():
        removed = TOTPDevice.objects.filter(user=user).delete()[0]
        removed += StaticDevice.objects.filter(user=user).delete()[0]
        if removed:
            _audit(user, "two_factor.reset", by_system=True)
    return bool(removed)


def agency_set_require_two_factor(*, agency: Agency, actor: User, required: bool) -> Agency:
    """Require two-factor login of every member (or only of admins again); audited."""
    with transaction.atomic():
        agency = Agency.objects.select_for_update().get(pk=agency.pk)
        if agency.require_two_factor != required:
            agency.require_two_factor = required
            agency.save(update_fields=["require_two_factor"])
            audit_record(
                agency=agency,
                actor=actor,
                action="agency.two_factor_required" if required else "agency.two_factor_optional",
                obj=agency,
                data={"require_two_factor": required},
            )
    return agency
