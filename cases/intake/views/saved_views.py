"""Saving and deleting named triage filters (staff who can write; viewers use the views
shared with them but, as everywhere, write nothing)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cases.intake.services.saved_views import saved_view_delete, saved_view_query, saved_view_save
from cases.intake.triage import saved_view_list_for
from cases.kernel.tenancy import get_or_404
from cases.kernel.web import HtmxHttpRequest, member_required, redirect_back


@require_POST
@member_required()
def saved_view_create(request: HtmxHttpRequest) -> HttpResponse:
    name = request.POST.get("name", "").strip()
    if not name:
        messages.error(request, _("Give the view a name."))
        return redirect_back(request, "finding_list")
    query = request.POST.get("query", "")
    view = saved_view_save(
        agency=request.membership.agency,
        owner=request.user,
        name=name,
        query=query,
        shared=bool(request.POST.get("shared")),
    )
    messages.success(request, _("View “%(name)s” saved.") % {"name": view.name})
    return _to_queue(query)


@require_POST
@member_required()
def saved_view_remove(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    # Only the owner deletes a view; a shared view of a colleague is 404 here, as is any
    # view of another agency.
    view = get_or_404(saved_view_list_for(request.user).filter(owner=request.user), pk=pk)
    saved_view_delete(view=view)
    messages.success(request, _("View “%(name)s” deleted.") % {"name": view.name})
    return redirect_back(request, "finding_list")


def _to_queue(query: str) -> HttpResponse:
    target = reverse("finding_list")
    kept = saved_view_query(query)
    return redirect(f"{target}?{kept}" if kept else target)
