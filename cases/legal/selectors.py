"""Reads of legal cases and their timelines, scoped to the user's agency."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from cases.kernel.models import AuditEvent
from cases.kernel.tenancy import AnyUser, get_or_404, scoped
from cases.legal.models import Case


def case_list_for(user: AnyUser) -> QuerySet[Case]:
    return scoped(Case.objects.prefetch_related("artists"), user).annotate(
        finding_count=Count("findings", distinct=True)
    )


def case_get_for(user: AnyUser, pk: int | str) -> Case:
    return get_or_404(scoped(Case.objects.select_related("agency", "created_by"), user), pk=pk)


def case_timeline_for(user: AnyUser, case: Case) -> QuerySet[AuditEvent]:
    """The case's own events plus those of its findings, oldest first."""
    finding_ids = [str(pk) for pk in case.findings.values_list("pk", flat=True)]
    return (
        scoped(AuditEvent.objects.all(), user)
        .filter(
            Q(object_type="case", object_id=str(case.pk))
            | Q(object_type="finding", object_id__in=finding_ids)
        )
        .order_by("seq")
    )
