"""Removal signatures: seeded per agency, edited by its admins, handed to the capture
pipeline as plain values (cases.evidence.capture.observation.RemovalSignature)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from cases.agency.models import Platform
from cases.evidence.capture import observation
from cases.evidence.models import RemovalSignature, SignatureKind
from cases.evidence.seeds import REMOVAL_SIGNATURES
from cases.kernel.audit.services import audit_record
from cases.kernel.models import Agency

SIGNATURE_FIELDS = ("platform", "name", "kind", "pattern", "is_active")


def removal_signatures_seed(*, agency: Agency) -> int:
    """Give an agency the starting signatures of the seeded platforms it has (idempotent:
    a signature of the same platform and name is left as the admins made it)."""
    with transaction.atomic():
        platforms = {p.name: p for p in Platform.objects.filter(agency=agency)}
        existing = set(
            RemovalSignature.objects.filter(agency=agency).values_list("platform_id", "name")
        )
        new = [
            RemovalSignature(
                agency=agency,
                platform=platforms[platform_name],
                name=name,
                kind=kind,
                pattern=pattern,
            )
            for platform_name, name, kind, pattern, _example in REMOVAL_SIGNATURES
            if platform_name in platforms and (platforms[platform_name].pk, name) not in existing
        ]
        RemovalSignature.objects.bulk_create(new)
    return len(new)


def removal_signatures_for_capture(*, agency: Agency) -> tuple[observation.RemovalSignature, ...]:
    """The agency's active signatures with their platform's current domains."""
    rows = (
        RemovalSignature.objects.filter(agency=agency, is_active=True)
        .select_related("platform")
        .order_by("platform__name", "name")
    )
    return tuple(
        observation.RemovalSignature(
            name=f"{row.platform.name}: {row.name}",
            domains=tuple(d.lower().strip(".") for d in row.platform.domains or []),
            pattern=row.pattern,
            is_regex=row.kind == SignatureKind.REGEX,
        )
        for row in rows
    )


def _check(agency: Agency, fields: dict[str, Any]) -> None:
    platform = fields.get("platform")
    if platform is not None and platform.agency_id != agency.pk:
        raise ValueError("the platform belongs to another agency")
    if fields.get("kind") == SignatureKind.REGEX:
        observation.compile_signature(fields["pattern"])  # regex.error for a bad pattern


def _audit_value(name: str, value: Any) -> Any:
    return value.name if name == "platform" and value is not None else value


def removal_signature_create(*, agency: Agency, actor: User, **fields: Any) -> RemovalSignature:
    unknown = set(fields) - set(SIGNATURE_FIELDS)
    if unknown:
        raise TypeError(f"removal_signature_create() got unexpected fields: {sorted(unknown)}")
    _check(agency, fields)
    with transaction.atomic():
        signature = RemovalSignature.objects.create(agency=agency, **fields)
        audit_record(
            agency=agency,
            actor=actor,
            action="removal_signature.created",
            obj=signature,
            data={name: _audit_value(name, value) for name, value in fields.items()},
        )
    return signature


def removal_signature_update(
    *, signature: RemovalSignature, actor: User, **fields: Any
) -> RemovalSignature:
    """Change a signature (deactivating it included); the audit event lists the changed
    fields with their old and new values."""
    unknown = set(fields) - set(SIGNATURE_FIELDS)
    if unknown:
        raise TypeError(f"removal_signature_update() got unexpected fields: {sorted(unknown)}")
    with transaction.atomic():
        signature = (
            RemovalSignature.objects.select_for_update()
            .select_related("agency", "platform")
            .get(pk=signature.pk)
        )
        _check(signature.agency, {"kind": signature.kind, "pattern": signature.pattern, **fields})
        changed = {
            name: {
                "from": _audit_value(name, getattr(signature, name)),
                "to": _audit_value(name, value),
            }
            for name, value in fields.items()
            if getattr(signature, name) != value
        }
        for name in changed:
            setattr(signature, name, fields[name])
        if changed:
            signature.save()
            audit_record(
                agency=signature.agency,
                actor=actor,
                action="removal_signature.updated",
                obj=signature,
                data=changed,
            )
    return signature
