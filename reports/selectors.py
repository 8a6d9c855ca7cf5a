"""Reads of the reports app, scoped to the user's agency (see cases.kernel.tenancy)."""

from __future__ import annotations

from django.db.models import QuerySet

from cases.kernel.tenancy import AnyUser, get_or_404, scoped
from cases.legal.models import Case
from reports.models import Dossier

PANEL_LIMIT = 20


def dossier_list_for(user: AnyUser, case: Case) -> QuerySet[Dossier]:
    """A case's dossiers, newest first."""
    return scoped(Dossier.objects.all(), user).filter(case=case).order_by("-created_at", "-id")


def dossier_get_for(user: AnyUser, case: Case, pk: int | str) -> Dossier:
    """One dossier of this case of the user's agency; 404 otherwise (another case's id too)."""
    return get_or_404(
        scoped(Dossier.objects.select_related("agency", "case"), user).filter(case=case), pk=pk
    )
