from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from cases.intake.models import FindingStatus
from cases.intake.selectors import finding_counts_for, finding_recent_for
from cases.kernel.web import HtmxHttpRequest, member_required
from cases.legal.models import CaseStatus
from cases.legal.selectors import case_list_for

RECENT = 10


@require_GET
@member_required()
def dashboard(request: HtmxHttpRequest) -> HttpResponse:
    counts = finding_counts_for(request.user)
    by_status = counts["by_status"]
    statuses = [(value, label, by_status.get(value, 0)) for value, label in FindingStatus.choices]
    open_cases = case_list_for(request.user).exclude(status=CaseStatus.CLOSED)[:RECENT]
    context = {
        "counts": counts,
        "statuses": statuses,
        "recent_findings": finding_recent_for(request.user, RECENT),
        "open_cases": open_cases,
    }
    return render(request, "cases/dashboard.html", context)
