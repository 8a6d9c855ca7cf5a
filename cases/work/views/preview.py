"""The triage queue's side preview panel (loaded by htmx; also a plain page fragment)."""

from __future__ import annotations

from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from cases.kernel.web import HtmxHttpRequest, member_required
from cases.work.preview import finding_preview_for


@require_GET
@member_required()
def finding_preview(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    preview = finding_preview_for(request.user, pk)
    context = {"preview": preview, "always_blur": request.membership.always_blur}
    return render(request, "cases/_finding_preview.html", context)
