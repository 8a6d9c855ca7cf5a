from __future__ import annotations

from django.contrib import messages
from django.db.models import QuerySet
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from cases.agency.selectors import abuse_lookup_for_host, artist_list_for
from cases.agency.services.abuse_lookups import abuse_lookup_is_fresh, abuse_lookup_request
from cases.intake.canonical import InvalidURL
from cases.intake.filters import SORTS, FindingFilter
from cases.intake.forms import (
    FindingBulkStatusForm,
    FindingCreateForm,
    FindingStatusForm,
    FindingUpdateForm,
)
from cases.intake.list_names import list_rows_named
from cases.intake.models import FindingSource, FindingStatus
from cases.intake.selectors import (
    finding_get_for,
    finding_list_for,
    finding_list_rows_for,
)
from cases.intake.services import findings as services
from cases.intake.services.findings import StatusChangeError
from cases.intake.triage import (
    finding_page,
    finding_total,
    source_choices,
    status_choices,
    triage_rows,
    triage_rows_html,
)
from cases.intake.triage_choices import options_html, saved_views_for, triage_choices_for
from cases.kernel.audit.selectors import audit_events_for_object
from cases.kernel.models import Membership, Role
from cases.kernel.per_language import per_language
from cases.kernel.tenancy import AnyUser, membership_list_for
from cases.kernel.times import when_date
from cases.kernel.web import (
    HtmxHttpRequest,
    member_required,
    partial_or_page,
    redirect_back,
)

MAX_REFUSALS_SHOWN = 10
FILTER_NAMES = ("q", "status", "source", "artist", "platform", "assignee", "mine", "no_artist")


def _assignable(user: AnyUser) -> QuerySet[Membership]:
    """Members a finding can be assigned to: those who can write (never read-only viewers)."""
    return membership_list_for(user).exclude(role=Role.VIEWER)


@per_language
def _sort_labels() -> tuple[tuple[str, str], ...]:
    labels = {
        "newest": _("Newest first"),
        "oldest": _("Oldest first"),
        "updated": _("Recently updated"),
        "host": _("Host name"),
        "score": _("Highest calibrated detection score"),
    }
    return tuple((key, str(labels.get(key, key))) for key in SORTS)


@require_GET
@member_required()
def finding_list(request: HtmxHttpRequest) -> HttpResponse:
    user = request.user
    queue = finding_list_rows_for(user, triage=True)
    filters = FindingFilter(request.GET, queryset=queue, request=request)
    sort = request.GET.get("sort", "newest")
    if sort not in SORTS:
        sort = "newest"
    findings = filters.qs
    page = finding_page(request, findings.order_by(*SORTS[sort]))
    # The filter bar's lists, the saved views and the rows' names: cached per agency.
    choices = triage_choices_for(request.membership.agency)
    rows = triage_rows(list_rows_named(list(page.items), choices))
    context = {
        "page": page,
        "rows": rows,
        "rows_html": triage_rows_html(rows, can_write=request.membership.can_write),
        "total": finding_total(findings, page),
        "saved_views": saved_views_for(choices, user.pk),
        "filters": filters,
        "sort": sort,
        "sort_options": options_html(_sort_labels(), sort),
        "status_options": options_html(status_choices(), request.GET.getlist("status")),
        "source_options": options_html(source_choices(), request.GET.get("source")),
        # The bulk bar's choices as its {% fixed %} fragment takes them (hashable, translated).
        "status_pairs": status_choices(),
        "filtered": any(request.GET.get(name) for name in FILTER_NAMES),
        "artist_options": options_html(choices.artists, request.GET.get("artist")),
        "platform_options": options_html(choices.platforms, request.GET.get("platform")),
        "member_options": options_html(choices.members, request.GET.get("assignee")),
        "mine": bool(request.GET.get("mine")),
        "no_artist": bool(request.GET.get("no_artist")),
    }
    return render(request, partial_or_page(request, "cases/finding_list.html", "results"), context)


@member_required(read=Role.LEGAL)
def finding_create(request: HtmxHttpRequest) -> HttpResponse:
    form = FindingCreateForm(request.POST or None, artists=artist_list_for(request.user))
    if request.method == "POST" and form.is_valid():
        try:
            finding, created = services.finding_record(
                agency=request.membership.agency,
                url=form.cleaned_data["url"],
                actor=request.user,
                source=FindingSource.STAFF,
                artists=form.cleaned_data["artists"],
                notes=form.cleaned_data["notes"],
            )
        except InvalidURL as exc:
            form.add_error("url", str(exc))
        else:
            if created:
                messages.success(request, _("Finding recorded."))
            else:
                when = when_date(finding.created_at)
                messages.info(
                    request,
                    _("This URL was already recorded on %(date)s — showing the existing finding.")
                    % {"date": when},
                )
            return redirect(finding)
    return render(request, "cases/finding_create.html", {"form": form})


@require_GET
@member_required()
def finding_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    user = request.user
    finding = finding_get_for(user, pk)
    timestamps = [
        (_("Recorded"), finding.created_at),
        (_("Triaged"), finding.triaged_at),
        (_("Captured"), finding.captured_at),
        (_("Notice sent"), finding.notice_sent_at),
        (_("Removed"), finding.removed_at),
        (_("Reappeared"), finding.reappeared_at),
        (_("Dismissed"), finding.dismissed_at),
    ]
    context = {
        "finding": finding,
        "artists": finding.artists.all(),
        "timestamps": timestamps,
        "events": audit_events_for_object(user, finding).order_by("seq"),
        "fan_reports": finding.fan_reports.select_related("artist").prefetch_related(
            "screenshots__same_media_as__report"
        ),
        "discoveries": finding.discoveries.order_by("created_at", "id"),
        "linked_cases": finding.cases.order_by("-created_at"),
        "status_form": FindingStatusForm(current=finding.status),
        "update_form": FindingUpdateForm(
            artists=artist_list_for(user), members=_assignable(user), finding=finding
        ),
        **_abuse_context(user, finding.host),
    }
    return render(request, "cases/finding_detail.html", context)


def _abuse_context(user: AnyUser, host: str) -> dict[str, object]:
    lookup = abuse_lookup_for_host(user, host)
    return {
        "abuse_lookup": lookup,
        "abuse_fresh": lookup is not None and abuse_lookup_is_fresh(lookup),
    }


@require_POST
@member_required()
def finding_abuse_lookup(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Queue an RDAP lookup of the finding's host (a worker runs it; never this request).
    A fresh cached answer is kept unless "look up again" was asked for."""
    finding = finding_get_for(request.user, pk)
    _lookup, queued = abuse_lookup_request(
        agency=request.membership.agency,
        host=finding.host,
        actor=request.user,
        force=request.POST.get("force") == "1",
    )
    if queued:
        messages.success(
            request, _("Abuse contact lookup queued for %(host)s.") % {"host": finding.host}
        )
    else:
        messages.info(
            request,
            _("The abuse contacts of %(host)s are recent; nothing to do.") % {"host": finding.host},
        )
    return redirect(finding)


@require_POST
@member_required()
def finding_status(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    finding = finding_get_for(request.user, pk)
    form = FindingStatusForm(request.POST, current=finding.status)
    if not form.is_valid():
        messages.error(request, _("Choose one of the statuses offered for this finding."))
        return redirect(finding)
    try:
        finding = services.finding_set_status(
            finding=finding,
            status=form.cleaned_data["status"],
            actor=request.user,
            reason=form.cleaned_data["reason"],
        )
    except StatusChangeError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, _("Status changed to %(status)s.") % {"status": finding.get_status_display()}
        )
    return redirect(finding)


@require_POST
@member_required()
def finding_update(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    user = request.user
    finding = finding_get_for(user, pk)
    form = FindingUpdateForm(request.POST, artists=artist_list_for(user), members=_assignable(user))
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect(finding)
    services.finding_update(
        finding=finding,
        actor=user,
        artists=form.cleaned_data["artists"],
        assignee=form.cleaned_data["assignee"],
        notes=form.cleaned_data["notes"],
    )
    messages.success(request, _("Finding updated."))
    return redirect(finding)


@require_POST
@member_required()
def finding_bulk_status(request: HtmxHttpRequest) -> HttpResponse:
    form = FindingBulkStatusForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, str(error))
        return redirect_back(request, "finding_list")
    ids = form.cleaned_data["ids"]
    findings = list(finding_list_for(request.user).select_related("agency").filter(pk__in=ids))
    status = form.cleaned_data["status"]
    changed, refused = services.finding_bulk_set_status(
        findings=findings, status=status, actor=request.user, reason=form.cleaned_data["reason"]
    )
    label = FindingStatus(status).label
    if changed:
        messages.success(
            request,
            ngettext(
                "%(count)s finding changed to %(status)s.",
                "%(count)s findings changed to %(status)s.",
                changed,
            )
            % {"count": changed, "status": label},
        )
    if refused:
        messages.warning(
            request,
            ngettext(
                "%(count)s finding was not changed:",
                "%(count)s findings were not changed:",
                len(refused),
            )
            % {"count": len(refused)},
        )
        for finding, reason in refused[:MAX_REFUSALS_SHOWN]:
            messages.warning(request, f"#{finding.pk} {finding.canonical_url} — {reason}")
        if len(refused) > MAX_REFUSALS_SHOWN:
            messages.warning(
                request,
                _("…and %(count)s more.") % {"count": len(refused) - MAX_REFUSALS_SHOWN},
            )
    missing = len(set(ids)) - len(findings)
    if missing:
        messages.warning(
            request,
            ngettext(
                "%(count)s selected finding was not found.",
                "%(count)s selected findings were not found.",
                missing,
            )
            % {"count": missing},
        )
    return redirect_back(request, "finding_list")
