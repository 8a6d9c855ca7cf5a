"""Reads of legal cases scoped to the user's agency."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from cases.kernel.tenancy import AnyUser, get_or_404, scoped
from cases.legal.models import Case


def case_list_for(user: AnyUser) -> QuerySet[Case]:
    return scoped(Case.objects.prefetch_related("artists"), user).annotate(
        finding_count=Count("findings", distinct=True)
    )


def case_get_for(user: AnyUser, pk: int | str) -> Case:
    return get_or_404(scoped(Case.objects.select_related("agency", "created_by"), user), pk=pk)
