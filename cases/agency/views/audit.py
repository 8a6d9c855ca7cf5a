from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render

from cases.kernel.audit.selectors import audit_event_list_for
from cases.kernel.audit.services import audit_chain_verify
from cases.kernel.models import Role
from cases.kernel.web import HtmxHttpRequest, member_required, paginate


@member_required(read=Role.ADMIN, write=Role.ADMIN)
def audit_list(request: HtmxHttpRequest) -> HttpResponse:
    """The agency's audit trail; POST verifies the whole hash chain and shows the result."""
    verification = None
    if request.method == "POST":
        verification = audit_chain_verify(agency=request.membership.agency)
    context = {
        "page": paginate(request, audit_event_list_for(request.user)),
        "verification": verification,
    }
    return render(request, "cases/audit_list.html", context)
