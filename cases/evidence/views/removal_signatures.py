"""Removal signatures in the UI: every member reads the table, admins add, edit and
deactivate signatures (cases.evidence.services.removal_signatures)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from cases.agency.selectors import platform_list_for
from cases.evidence.forms import RemovalSignatureForm
from cases.evidence.selectors import removal_signature_list_for
from cases.evidence.services.removal_signatures import (
    removal_signature_create as removal_signature_create_service,
)
from cases.evidence.services.removal_signatures import (
    removal_signature_update as removal_signature_update_service,
)
from cases.kernel.models import Role
from cases.kernel.tenancy import get_or_404
from cases.kernel.web import HtmxHttpRequest, member_required, paginate


@require_GET
@member_required()
def removal_signature_list(request: HtmxHttpRequest) -> HttpResponse:
    signatures = removal_signature_list_for(request.user).select_related("platform")
    page = paginate(request, signatures.order_by("platform__name", "name", "pk"))
    return render(request, "cases/removal_signature_list.html", {"page": page})


@member_required(read=Role.ADMIN, write=Role.ADMIN)
def removal_signature_create(request: HtmxHttpRequest) -> HttpResponse:
    form = RemovalSignatureForm(
        request.POST or None,
        platforms=platform_list_for(request.user),
        signatures=removal_signature_list_for(request.user),
    )
    if request.method == "POST" and form.is_valid():
        removal_signature_create_service(
            agency=request.membership.agency, actor=request.user, **form.cleaned_data
        )
        messages.success(request, _("Removal signature added."))
        return redirect("removal_signature_list")
    return render(request, "cases/removal_signature_form.html", {"form": form, "signature": None})


@member_required(read=Role.ADMIN, write=Role.ADMIN)
def removal_signature_update(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    signatures = removal_signature_list_for(request.user)
    signature = get_or_404(signatures.select_related("platform"), pk=pk)
    form = RemovalSignatureForm(
        request.POST or None,
        instance=signature,
        platforms=platform_list_for(request.user),
        signatures=signatures,
    )
    if request.method == "POST" and form.is_valid():
        # The form wrote the values on the instance; the service compares with the stored row.
        removal_signature_update_service(
            signature=signature, actor=request.user, **form.cleaned_data
        )
        messages.success(request, _("Removal signature updated."))
        return redirect("removal_signature_list")
    return render(
        request, "cases/removal_signature_form.html", {"form": form, "signature": signature}
    )
