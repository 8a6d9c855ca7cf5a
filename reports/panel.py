"""What the case page's dossier panel shows (shared by the view and the template tag)."""

from __future__ import annotations

from typing import Any

from cases.kernel.tenancy import can_write
from cases.legal.models import Case
from reports.selectors import PANEL_LIMIT, dossier_list_for
from reports.services import annex_candidates

ANNEX_CHOICES_LIMIT = 200


def panel_context(request: Any, case: Case) -> dict[str, Any]:
    dossiers = list(dossier_list_for(request.user, case)[:PANEL_LIMIT])
    writer = can_write(request.user)
    return {
        "case": case,
        "dossiers": dossiers,
        "can_generate": writer,
        "active": any(not dossier.is_finished for dossier in dossiers),
        "annex_candidates": annex_candidates(case)[:ANNEX_CHOICES_LIMIT] if writer else [],
        "request": request,
    }
