"""The Sources page: the agency's watched sources with their counts and error states, and
the forms to add, change and delete them (admins and legal staff)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cases.intake.forms import WatchedSourceForm
from cases.intake.monitor.models import WatchedSource
from cases.intake.selectors import discovery_list_for, watched_source_list_for
from cases.intake.services.watched_sources import (
    SOURCE_FIELDS,
    WatchedSourceError,
    watched_source_poll_soon,
    watched_source_save,
)
from cases.intake.services.watched_sources import (
    watched_source_delete as watched_source_delete_service,
)
from cases.kernel.models import Role
from cases.kernel.tenancy import get_or_404
from cases.kernel.web import HtmxHttpRequest, member_required, paginate

# Sources say what the agency watches and how: not for viewers (as staff and settings).
SOURCES_ROLE = Role.LEGAL


@member_required(read=SOURCES_ROLE, write=SOURCES_ROLE)
def watched_source_list(request: HtmxHttpRequest) -> HttpResponse:
    page = paginate(request, watched_source_list_for(request.user))
    return render(request, "cases/watched_source_list.html", {"page": page})


@member_required(read=SOURCES_ROLE, write=SOURCES_ROLE)
def watched_source_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    source = get_or_404(watched_source_list_for(request.user), pk=pk)
    discoveries = (
        discovery_list_for(request.user).filter(source=source).select_related("finding")[:50]
    )
    context = {
        "source": source,
        "discoveries": discoveries,
        "strong_distance": settings.MONITOR_STRONG_DISTANCE,
        "strong_video_percent": settings.MONITOR_STRONG_VPDQ_PERCENT,
    }
    return render(request, "cases/watched_source_detail.html", context)


@member_required(read=SOURCES_ROLE, write=SOURCES_ROLE)
def watched_source_create(request: HtmxHttpRequest) -> HttpResponse:
    return _source_form(request, None)


@member_required(read=SOURCES_ROLE, write=SOURCES_ROLE)
def watched_source_update(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    return _source_form(request, get_or_404(watched_source_list_for(request.user), pk=pk))


def _source_form(request: HtmxHttpRequest, source: WatchedSource | None) -> HttpResponse:
    initial = (
        {name: getattr(source, name) for name in SOURCE_FIELDS}
        if source
        else {"active": True, "interval_minutes": 60}
    )
    form = WatchedSourceForm(request.POST if request.method == "POST" else None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved = watched_source_save(
                agency=request.membership.agency,
                actor=request.user,
                source=source,
                **form.cleaned_data,
            )
        except WatchedSourceError as exc:
            form.add_error(exc.field, exc.message)
        else:
            messages.success(request, _("Source %(name)s saved.") % {"name": saved.name})
            return redirect("watched_source_detail", pk=saved.pk)
    return render(request, "cases/watched_source_form.html", {"form": form, "source": source})


@require_POST
@member_required(read=SOURCES_ROLE, write=SOURCES_ROLE)
def watched_source_delete(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    source = get_or_404(watched_source_list_for(request.user), pk=pk)
    if request.POST.get("confirm") != "yes":
        messages.error(request, _("Tick the box to confirm the deletion."))
        return redirect("watched_source_detail", pk=source.pk)
    name = source.name
    watched_source_delete_service(source=source, actor=request.user)
    messages.success(request, _("Source %(name)s deleted.") % {"name": name})
    return redirect("watched_source_list")


@require_POST
@member_required(read=SOURCES_ROLE, write=SOURCES_ROLE)
def watched_source_poll(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    source = get_or_404(watched_source_list_for(request.user), pk=pk)
    watched_source_poll_soon(source=source, actor=request.user)
    messages.success(request, _("The source will be polled within a minute or two."))
    return redirect("watched_source_detail", pk=source.pk)
