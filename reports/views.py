"""Dossier pages: the case page's panel (htmx polling while one builds), generate a dossier
or packet, request an unblurred annex, retry a failed one, download. Legal staff and admins
only, except the panel, which every member of the agency sees (without download links or
retry buttons for viewers)."""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from cases.kernel.models import Role
from cases.kernel.web import HtmxHttpRequest, job_queued_message, member_required, parse_ids
from cases.legal.selectors import case_get_for
from reports.models import DossierKind, DossierStatus
from reports.panel import panel_context
from reports.selectors import dossier_get_for
from reports.services import (
    DossierRefused,
    dossier_download_record,
    dossier_open,
    dossier_request,
    dossier_retry,
)

PANEL_TEMPLATE = "reports/_dossiers_panel_body.html"


def _after_post(request: HtmxHttpRequest, case_pk: int) -> HttpResponse:
    if request.htmx:
        case = case_get_for(request.user, case_pk)
        return render(request, PANEL_TEMPLATE, panel_context(request, case))
    return redirect("case_detail", pk=case_pk)


@require_GET
@member_required()
def case_dossier_panel(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    case = case_get_for(request.user, pk)
    return render(request, PANEL_TEMPLATE, panel_context(request, case))


@require_POST
@member_required(read=Role.LEGAL, write=Role.LEGAL)
def case_dossier_create(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    case = case_get_for(request.user, pk)
    kind = request.POST.get("kind", DossierKind.DOSSIER)
    if kind == DossierKind.ANNEX:
        kind = ""  # an annex has its own form with a reason
    try:
        dossier = dossier_request(
            case=case, kind=kind, actor=request.user, language=request.LANGUAGE_CODE
        )
    except DossierRefused as refused:
        messages.error(request, refused.message)
    else:
        job_queued_message(request, dossier)
    return _after_post(request, case.pk)


@require_POST
@member_required(read=Role.LEGAL, write=Role.LEGAL)
def case_annex_create(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    case = case_get_for(request.user, pk)
    ids = parse_ids(" ".join(request.POST.getlist("evidence")))
    try:
        dossier = dossier_request(
            case=case,
            kind=DossierKind.ANNEX,
            actor=request.user,
            language=request.LANGUAGE_CODE,
            reason=request.POST.get("reason", ""),
            evidence_ids=ids,
        )
    except DossierRefused as refused:
        messages.error(request, refused.message)
    else:
        job_queued_message(request, dossier)
    return _after_post(request, case.pk)


@require_POST
@member_required(read=Role.LEGAL, write=Role.LEGAL)
def case_dossier_retry(request: HtmxHttpRequest, pk: int, dossier_pk: int) -> HttpResponse:
    case = case_get_for(request.user, pk)
    dossier = dossier_get_for(request.user, case, dossier_pk)
    try:
        dossier_retry(dossier=dossier, actor=request.user)
    except DossierRefused as refused:
        messages.error(request, refused.message)
    else:
        job_queued_message(request, dossier)
    return _after_post(request, case.pk)


@require_GET
@member_required(read=Role.LEGAL)
def case_dossier_download(request: HtmxHttpRequest, pk: int, dossier_pk: int) -> FileResponse:
    case = case_get_for(request.user, pk)
    dossier = dossier_get_for(request.user, case, dossier_pk)
    part = request.GET.get("part", "pdf")
    if part not in ("pdf", "zip") or dossier.status != DossierStatus.DONE:
        raise Http404
    if part == "zip" and not dossier.zip_name:
        raise Http404
    dossier_download_record(dossier=dossier, part=part, actor=request.user)
    prefix = {"dossier": "dossier", "packet": "evidence-packet", "annex": "annex-unblurred"}
    filename = f"{case.reference}-{prefix[dossier.kind]}-{dossier.identifier}.{part}"
    response = FileResponse(
        dossier_open(dossier, part),
        as_attachment=True,
        filename=filename,
        content_type="application/zip" if part == "zip" else "application/pdf",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, no-store"
    return response
