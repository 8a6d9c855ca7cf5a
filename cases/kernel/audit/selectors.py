"""Reads of the audit trail, scoped to the user's agency."""

from __future__ import annotations

from django.db.models import Model, QuerySet

from cases.kernel.models import AuditEvent
from cases.kernel.tenancy import AnyUser, scoped


def audit_events_for_object(user: AnyUser, obj: Model) -> QuerySet[AuditEvent]:
    return scoped(AuditEvent.objects.select_related("actor"), user).filter(
        object_type=obj._meta.model_name, object_id=str(obj.pk)
    )


def audit_event_list_for(user: AnyUser) -> QuerySet[AuditEvent]:
    """The agency's audit trail, newest first (the audit page; admins only at the view)."""
    return scoped(AuditEvent.objects.select_related("actor"), user).order_by("-seq")
