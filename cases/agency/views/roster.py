from __future__ import annotations

from django.contrib import messages
from django.db.models import Count, Q
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from cases.agency.forms import ArtistForm, GroupForm
from cases.agency.models import Artist, ArtistShareConsent
from cases.agency.selectors import artist_get_for, artist_list_for, group_get_for, group_list_for
from cases.agency.services.consent import (
    ConsentError,
    artist_consent_record,
    artist_consent_withdraw,
)
from cases.agency.services.roster import artist_save, group_save
from cases.kernel.models import Role
from cases.kernel.tenancy import can_see_legal_names
from cases.kernel.web import (
    HtmxHttpRequest,
    member_required,
    paginate,
    partial_or_page,
    query_text,
)


@require_GET
@member_required()
def artist_list(request: HtmxHttpRequest) -> HttpResponse:
    artists = artist_list_for(request.user).annotate(finding_count=Count("findings"))
    q = query_text(request, "q")
    if q:
        artists = artists.filter(
            Q(stage_name__icontains=q) | Q(name_hangul__icontains=q) | Q(name_latin__icontains=q)
        )
    context = {"page": paginate(request, artists.order_by("stage_name")), "q": q}
    return render(request, partial_or_page(request, "cases/artist_list.html", "results"), context)


@require_GET
@member_required()
def artist_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    user = request.user
    artist = artist_get_for(user, pk)
    context = {
        "artist": artist,
        "show_legal_name": can_see_legal_names(user),
        "linked_cases": artist.cases.order_by("-created_at"),
        "share_consents": ArtistShareConsent.objects.filter(artist=artist).select_related(
            "recorded_by", "withdrawn_by"
        )[:10],
    }
    return render(request, "cases/artist_detail.html", context)


@require_POST
@member_required(read=Role.ADMIN, write=Role.ADMIN)
def artist_share_consent(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Record (action=record, with how it was given) or withdraw (action=withdraw) the
    artist's consent to share their confirmed fakes' hashes with partner agencies."""
    artist = artist_get_for(request.user, pk)
    try:
        if request.POST.get("action") == "withdraw":
            artist_consent_withdraw(artist=artist, actor=request.user)
            messages.success(
                request, _("Consent withdrawn: partners drop these hashes on their next fetch.")
            )
        else:
            note = request.POST.get("note", "")[:500]
            artist_consent_record(artist=artist, actor=request.user, note=note)
            messages.success(request, _("Consent to share recorded."))
    except ConsentError as exc:
        messages.error(request, str(exc))
    return redirect("artist_detail", pk=artist.pk)


def _artist_form(request: HtmxHttpRequest, artist: Artist | None = None) -> ArtistForm:
    user = request.user
    return ArtistForm(
        request.POST if request.method == "POST" else None,
        groups=group_list_for(user),
        artists=artist_list_for(user),
        show_legal_name=can_see_legal_names(user),
        artist=artist,
    )


@member_required(read=Role.ADMIN, write=Role.ADMIN)
def artist_create(request: HtmxHttpRequest) -> HttpResponse:
    form = _artist_form(request)
    if request.method == "POST" and form.is_valid():
        artist = artist_save(
            agency=request.membership.agency,
            actor=request.user,
            groups=form.cleaned_data["groups"],
            **form.service_fields(),
        )
        messages.success(request, _("Artist %(name)s added.") % {"name": artist.stage_name})
        return redirect("artist_detail", pk=artist.pk)
    return render(request, "cases/artist_form.html", {"form": form, "artist": None})


@member_required(read=Role.ADMIN, write=Role.ADMIN)
def artist_update(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    artist = artist_get_for(request.user, pk)
    form = _artist_form(request, artist=artist)
    if request.method == "POST" and form.is_valid():
        artist_save(
            agency=request.membership.agency,
            actor=request.user,
            artist=artist,
            groups=form.cleaned_data["groups"],
            **form.service_fields(),
        )
        messages.success(request, _("Artist updated."))
        return redirect("artist_detail", pk=artist.pk)
    return render(request, "cases/artist_form.html", {"form": form, "artist": artist})


@require_GET
@member_required()
def group_list(request: HtmxHttpRequest) -> HttpResponse:
    page = paginate(request, group_list_for(request.user).order_by("name"))
    return render(request, "cases/group_list.html", {"page": page})


@member_required(read=Role.ADMIN, write=Role.ADMIN)
def group_create(request: HtmxHttpRequest) -> HttpResponse:
    groups = group_list_for(request.user)
    form = GroupForm(request.POST or None, groups=groups)
    if request.method == "POST" and form.is_valid():
        group_save(agency=request.membership.agency, actor=request.user, **form.cleaned_data)
        messages.success(request, _("Group added."))
        return redirect("group_list")
    return render(request, "cases/group_form.html", {"form": form, "group": None})


@member_required(read=Role.ADMIN, write=Role.ADMIN)
def group_update(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    groups = group_list_for(request.user)
    group = group_get_for(request.user, pk)
    form = GroupForm(request.POST or None, groups=groups, group=group)
    if request.method == "POST" and form.is_valid():
        group_save(
            agency=request.membership.agency, actor=request.user, group=group, **form.cleaned_data
        )
        messages.success(request, _("Group updated."))
        return redirect("group_list")
    return render(request, "cases/group_form.html", {"form": form, "group": group})
