"""Agencies and their staff."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from cases.agency.services.platforms import platforms_seed
from cases.agency.signals import agency_created
from cases.kernel.audit.services import audit_record
from cases.kernel.models import Agency, AuditChain, Membership, Role


def agency_create(*, name: str, slug: str) -> Agency:
    """A new tenant with its audit chain and the seeded platform table; the agency_created
    hook seeds the rest (the platforms' removal signatures)."""
    with transaction.atomic():
        agency = Agency.objects.create(name=name, slug=slug)
        AuditChain.objects.create(agency=agency)
        platforms_seed(agency=agency)
        agency_created.send(sender=Agency, agency=agency)
        audit_record(
            agency=agency, actor=None, action="agency.created", obj=agency, data={"name": name}
        )
    return agency


def staff_username(*, agency: Agency, name: str) -> str:
    """The user name of a staff account an agency admin creates: the agency's slug, a dot,
    then the chosen name ("aurora.dave"). User names are global, so without the agency's
    own namespace a taken name would tell the admin that someone in another agency has it;
    a slug never holds a dot, so two agencies' namespaces never meet."""
    return f"{agency.slug}.{name}"


def membership_create(
    *,
    agency: Agency,
    actor: User | None,
    username: str,
    email: str,
    password: str | None,
    role: str = Role.VIEWER,
) -> Membership:
    """Create a staff account in the agency. Without a password the account cannot log in
    until a password is set (by the admin or the password-reset flow)."""
    with transaction.atomic():
        user = User.objects.create_user(username=username, email=email, password=password)
        membership = Membership.objects.create(user=user, agency=agency, role=role)
        audit_record(
            agency=agency,
            actor=actor,
            action="membership.created",
            obj=membership,
            data={"username": username, "role": role},
        )
    return membership


def membership_update(
    *,
    membership: Membership,
    actor: User,
    role: str | None = None,
    active: bool | None = None,
) -> Membership:
    """Change a staff member's role or deactivate the account (never delete: the audit trail names them)."""
    changes: dict[str, object] = {}
    with transaction.atomic():
        if role is not None and role != membership.role:
            changes["role"] = {"from": membership.role, "to": role}
            membership.role = role
            membership.save(update_fields=["role"])
        if active is not None and active != membership.user.is_active:
            changes["active"] = active
            membership.user.is_active = active
            membership.user.save(update_fields=["is_active"])
        if changes:
            audit_record(
                agency=membership.agency,
                actor=actor,
                action="membership.updated",
                obj=membership,
                data=changes,
            )
    return membership
