from __future__ import annotations

from django.contrib import messages
from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from cases.agency.selectors import artist_list_for
from cases.intake.selectors import finding_list_for
from cases.kernel.models import Role
from cases.kernel.tenancy import get_or_404
from cases.kernel.web import (
    HtmxHttpRequest,
    member_required,
    paginate,
    parse_ids,
    partial_or_page,
    query_text,
)
from cases.legal.forms import CaseFindingsForm, CaseForm, DeadlineForm
from cases.legal.models import CaseStatus
from cases.legal.selectors import case_get_for, case_list_for
from cases.legal.services import legal_cases as services

PICK_FROM_RECENT = 20


@require_GET
@member_required()
def case_list(request: HtmxHttpRequest) -> HttpResponse:
    cases = case_list_for(request.user).order_by("-created_at", "-id")
    q = query_text(request, "q")
    if q:
        cases = cases.filter(Q(title__icontains=q) | Q(reference__icontains=q))
    status = request.GET.get("status", "")
    if status in CaseStatus.values:
        cases = cases.filter(status=status)
    context = {
        "page": paginate(request, cases),
        "q": q,
        "status": status,
        "statuses": CaseStatus.choices,
    }
    return render(request, partial_or_page(request, "cases/case_list.html", "results"), context)


@member_required(read=Role.LEGAL)
def case_create(request: HtmxHttpRequest) -> HttpResponse:
    form = CaseForm(request.POST or None, artists=artist_list_for(request.user))
    if request.method == "POST" and form.is_valid():
        case = services.case_create(
            agency=request.membership.agency,
            actor=request.user,
            artists=form.cleaned_data["artists"],
            **form.service_fields(),
        )
        messages.success(request, _("Case %(reference)s created.") % {"reference": case.reference})
        return redirect(case)
    return render(request, "cases/case_form.html", {"form": form, "case": None})


@require_GET
@member_required()
def case_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    user = request.user
    case = case_get_for(user, pk)
    findings = case.findings.select_related("platform", "assignee").order_by("-created_at", "-id")
    context = {
        "case": case,
        "artists": case.artists.all(),
        "page": paginate(request, findings),
        "recent_findings": finding_list_for(user)
        .exclude(cases=case)
        .order_by("-created_at", "-id")[:PICK_FROM_RECENT],
        "deadlines": case.deadlines.all(),
        "deadline_form": DeadlineForm(),
        "link_form": CaseFindingsForm(),
    }
    return render(request, "cases/case_detail.html", context)


@member_required(read=Role.LEGAL)
def case_update(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    user = request.user
    case = case_get_for(user, pk)
    artists = artist_list_for(user)
    if request.method == "POST":
        form = CaseForm(request.POST, artists=artists)
        if form.is_valid():
            services.case_update(
                case=case, actor=user, artists=form.cleaned_data["artists"], **form.service_fields()
            )
            messages.success(request, _("Case updated."))
            return redirect(case)
    else:
        form = CaseForm(artists=artists, case=case)
    return render(request, "cases/case_form.html", {"form": form, "case": case})


@require_POST
@member_required()
def case_findings(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    user = request.user
    case = case_get_for(user, pk)
    form = CaseFindingsForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose findings to link or unlink."))
        return redirect(case)
    ids = list(dict.fromkeys(parse_ids(form.cleaned_data["ids"]) + form.cleaned_data["picked"]))
    if not ids:
        messages.error(request, _("Paste finding ids or pick findings from the list."))
        return redirect(case)
    unlink = form.cleaned_data["action"] == "unlink"
    findings = list(finding_list_for(user).filter(pk__in=ids))
    changed = services.case_link_findings(case=case, actor=user, findings=findings, unlink=unlink)
    if unlink:
        text = ngettext("%(count)s finding unlinked.", "%(count)s findings unlinked.", changed)
    else:
        text = ngettext("%(count)s finding linked.", "%(count)s findings linked.", changed)
    messages.success(request, text % {"count": changed})
    missing = sorted(set(ids) - {f.pk for f in findings})
    if missing:
        messages.warning(
            request,
            _("No finding with these ids: %(ids)s.") % {"ids": ", ".join(map(str, missing[:20]))},
        )
    return redirect(case)


@require_POST
@member_required()
def case_deadline_add(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    case = case_get_for(request.user, pk)
    form = DeadlineForm(request.POST)
    if form.is_valid():
        services.case_deadline_add(
            case=case,
            actor=request.user,
            title=form.cleaned_data["title"],
            due_on=form.cleaned_data["due_on"],
        )
        messages.success(request, _("Deadline added."))
    else:
        messages.error(request, _("A deadline needs a title and a valid date."))
    return redirect(case)


@require_POST
@member_required()
def case_deadline_done(request: HtmxHttpRequest, pk: int, deadline_pk: int) -> HttpResponse:
    case = case_get_for(request.user, pk)
    deadline = get_or_404(case.deadlines.select_related("case__agency"), pk=deadline_pk)
    services.case_deadline_done(deadline=deadline, actor=request.user)
    messages.success(request, _("Deadline marked done."))
    return redirect(case)
