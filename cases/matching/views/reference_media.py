"""Reference media: the agency's official photos and videos per artist, so that re-uploads
name the artist and the source work. Everyone in the agency sees the list; only admins
register new ones (through cases.matching.services.reference_media.reference_media_add, which validates the
file like any evidence upload)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from cases.agency.selectors import artist_get_for
from cases.evidence.uploads import max_upload_bytes
from cases.kernel.models import Role
from cases.kernel.web import HtmxHttpRequest, member_required, paginate
from cases.matching.selectors import reference_media_list_for
from cases.matching.services.reference_media import ReferenceMediaError, reference_media_add

# Multipart framing around the file: a body larger than the limit plus this is refused
# from its Content-Length, before the file is read.
MULTIPART_SLACK = 64 * 1024


class ReferenceMediaForm(forms.Form):
    file = forms.FileField(label=gettext_lazy("Photo or video"))
    title = forms.CharField(
        label=gettext_lazy("Official work"),
        max_length=300,
        help_text=gettext_lazy(
            "As a takedown notice would name it, e.g. Official MV 'Starlight' 2024."
        ),
    )
    source_url = forms.CharField(
        label=gettext_lazy("Official source URL"), max_length=2000, required=False
    )
    published_on = forms.DateField(
        label=gettext_lazy("Published on"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )


@require_GET
@member_required()
def reference_media_index(request: HtmxHttpRequest) -> HttpResponse:
    page = paginate(request, reference_media_list_for(request.user))
    return render(request, "cases/reference_media_index.html", {"page": page})


@require_GET
@member_required()
def reference_media_list(request: HtmxHttpRequest, artist_pk: int) -> HttpResponse:
    artist = artist_get_for(request.user, artist_pk)
    page = paginate(request, reference_media_list_for(request.user).filter(artist=artist))
    return render(request, "cases/reference_media_list.html", {"artist": artist, "page": page})


def _form_page(
    request: HtmxHttpRequest,
    artist: object,
    form: ReferenceMediaForm,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    context = {"artist": artist, "form": form, "error": error, "max_bytes": max_upload_bytes()}
    return render(request, "cases/reference_media_form.html", context, status=status)


@member_required(read=Role.ADMIN, write=Role.ADMIN)
def reference_media_create(request: HtmxHttpRequest, artist_pk: int) -> HttpResponse:
    artist = artist_get_for(request.user, artist_pk)
    if request.method != "POST":
        return _form_page(request, artist, ReferenceMediaForm())
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > max_upload_bytes() + MULTIPART_SLACK:
        message = _("The file is %(size)s; the largest accepted upload is %(limit)s.") % {
            "size": filesizeformat(length),
            "limit": filesizeformat(max_upload_bytes()),
        }
        return _form_page(request, artist, ReferenceMediaForm(), message, status=413)
    form = ReferenceMediaForm(request.POST, request.FILES)
    if not form.is_valid():
        return _form_page(request, artist, form, status=400)
    upload = form.cleaned_data["file"]
    try:
        reference = reference_media_add(
            agency=request.membership.agency,
            artist=artist,
            title=form.cleaned_data["title"],
            data=upload,
            original_name=upload.name or "",
            actor=request.user,
            source_url=form.cleaned_data["source_url"],
            published_on=form.cleaned_data["published_on"],
        )
    except ReferenceMediaError as exc:
        status = 413 if exc.code == "too_large" else 400
        return _form_page(request, artist, form, exc.message, status=status)
    messages.success(
        request,
        _("Reference media “%(title)s” registered for %(artist)s. Matching runs in the background.")
        % {"title": reference.title, "artist": artist.stage_name},
    )
    return redirect("reference_media_list", artist_pk=artist.pk)
