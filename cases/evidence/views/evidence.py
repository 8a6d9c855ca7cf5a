"""Evidence pages and files, always through a tenant-checked selector (an outsider's id is a
404; there is no route by hash).

- detail: metadata, chain of custody and the blurred preview (custody "viewed");
- preview: the blurred JPEG (inline); with a reveal token, the unblurred downscaled one;
- reveal (POST, legal staff and admins): logs custody "revealed" with the reason, then shows
  the unblurred preview through a signed token bound to the user and the item that expires
  after EVIDENCE_REVEAL_SECONDS. With "keep all media blurred" on, each reveal needs an
  explicit confirmation;
- download (legal staff and admins): the original as an attachment named <sha256>.<ext>,
  with nosniff, a sandboxing CSP and no caching (custody "downloaded");
- upload (legal staff and admins): validated by cases.evidence.uploads before anything is stored.
"""

from __future__ import annotations

from typing import Any, TypeVar
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import (
    FileResponse,
    Http404,
    HttpResponse,
    HttpResponseBase,
    HttpResponseNotAllowed,
)
from django.shortcuts import redirect, render
from django.template.defaultfilters import filesizeformat
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from cases.evidence.models import CustodyAction, Evidence, EvidenceKind
from cases.evidence.previews import (
    blurred_preview,
    has_image_preview,
    placeholder_jpeg,
    revealed_preview,
)
from cases.evidence.selectors import custody_events_for, evidence_get_for
from cases.evidence.services.evidence import custody_record, evidence_ingest, evidence_open
from cases.evidence.uploads import UploadRefused, max_upload_bytes, upload_validate
from cases.intake.models import Finding
from cases.intake.selectors import finding_get_for
from cases.kernel.media import media_extension
from cases.kernel.models import Role
from cases.kernel.storage import evidence_storage
from cases.kernel.web import HtmxHttpRequest, member_required

REVEAL_SALT = "cases.evidence.reveal"
# Multipart framing around the file: a body larger than the limit plus this is refused
# before it is read, so a 5 GB upload never reaches the disk.
MULTIPART_SLACK = 64 * 1024


ResponseT = TypeVar("ResponseT", bound=HttpResponseBase)


def _lock_down(response: ResponseT, disposition: str) -> ResponseT:
    """Headers for every evidence byte we send: never rendered as a page, never cached."""
    response["Content-Disposition"] = disposition
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["Cache-Control"] = "private, no-store"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


def reveal_token(evidence: Evidence, user: Any) -> str:
    return signing.dumps({"e": evidence.pk, "u": user.pk}, salt=REVEAL_SALT)


def _reveal_allowed(request: HtmxHttpRequest, evidence: Evidence, token: str) -> bool:
    if not token or not request.membership.can_write:
        return False
    try:
        payload = signing.loads(token, salt=REVEAL_SALT, max_age=settings.EVIDENCE_REVEAL_SECONDS)
    except signing.BadSignature:
        return False
    return payload == {"e": evidence.pk, "u": request.user.pk}


@require_GET
@member_required()
def evidence_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    evidence = evidence_get_for(request.user, pk)
    custody_record(evidence=evidence, action=CustodyAction.VIEWED, actor=request.user)
    token = request.GET.get("reveal", "")
    revealed = _reveal_allowed(request, evidence, token)
    preview_url = reverse("evidence_preview", args=[evidence.pk])
    if revealed:
        preview_url += "?" + urlencode({"reveal": token})
    context = {
        "evidence": evidence,
        "finding": evidence.finding,
        "custody_events": custody_events_for(request.user, evidence),
        "preview_url": preview_url,
        "revealed": revealed,
        "has_image_preview": has_image_preview(evidence),
        "always_blur": request.membership.always_blur,
        "reveal_seconds": settings.EVIDENCE_REVEAL_SECONDS,
    }
    return render(request, "cases/evidence_detail.html", context)


@require_GET
@member_required()
def evidence_preview(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    evidence = evidence_get_for(request.user, pk)
    token = request.GET.get("reveal", "")
    if token:
        if not _reveal_allowed(request, evidence, token):
            raise PermissionDenied
        data = revealed_preview(evidence) or placeholder_jpeg()
    else:
        data = blurred_preview(evidence)
    response = HttpResponse(data, content_type="image/jpeg")
    return _lock_down(response, 'inline; filename="preview.jpg"')


@require_POST
@member_required(read=Role.LEGAL, write=Role.LEGAL)
def evidence_reveal(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    evidence = evidence_get_for(request.user, pk)
    detail_url = reverse("evidence_detail", args=[evidence.pk])
    if not has_image_preview(evidence):
        messages.error(
            request, _("This item has no image preview to reveal. Download the original instead.")
        )
        return redirect(detail_url)
    if request.membership.always_blur and request.POST.get("confirm") != "yes":
        messages.error(
            request,
            _("You keep all media blurred: tick the confirmation box to see this item unblurred."),
        )
        return redirect(detail_url)
    reason = request.POST.get("reason", "").strip()[:500]
    custody_record(
        evidence=evidence, action=CustodyAction.REVEALED, actor=request.user, reason=reason
    )
    return redirect(detail_url + "?" + urlencode({"reveal": reveal_token(evidence, request.user)}))


@require_GET
@member_required(read=Role.LEGAL)
def evidence_download(request: HtmxHttpRequest, pk: int) -> FileResponse:
    evidence = evidence_get_for(request.user, pk)
    if not evidence_storage().exists(evidence.storage_name):
        raise Http404("the stored original is missing; run manage.py evidence_verify")
    custody_record(evidence=evidence, action=CustodyAction.DOWNLOADED, actor=request.user)
    extension = media_extension(evidence.media_type)
    response = FileResponse(
        evidence_open(evidence),
        as_attachment=True,
        filename=f"{evidence.sha256}.{extension}",
        content_type=evidence.media_type or "application/octet-stream",
    )
    return _lock_down(response, response["Content-Disposition"])


def _upload_page(
    request: HtmxHttpRequest, finding: Finding, error: str = "", status: int = 200
) -> HttpResponse:
    context = {"finding": finding, "error": error, "max_bytes": max_upload_bytes()}
    return render(request, "cases/evidence_upload.html", context, status=status)


# CSRF is checked inside, after the size check: the CSRF middleware would otherwise parse
# (and spool to disk) the whole multipart body before the view could refuse it.
@csrf_exempt
@member_required(read=Role.LEGAL, write=Role.LEGAL)
def evidence_upload(request: HtmxHttpRequest, finding_pk: int) -> HttpResponse:
    finding = finding_get_for(request.user, finding_pk)
    if request.method == "GET":
        return _upload_page(request, finding)
    if request.method != "POST":
        return HttpResponseNotAllowed(["GET", "POST"])
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    limit = max_upload_bytes()
    if length > limit + MULTIPART_SLACK:
        message = _("The file is %(size)s; the largest accepted upload is %(limit)s.") % {
            "size": filesizeformat(length),
            "limit": filesizeformat(limit),
        }
        return _upload_page(request, finding, message, status=413)
    return _upload_post(request, finding)


@csrf_protect
def _upload_post(request: HtmxHttpRequest, finding: Finding) -> HttpResponse:
    upload = request.FILES.get("file")
    if upload is None:
        return _upload_page(request, finding, _("Choose a file to upload."), status=400)
    try:
        validated = upload_validate(upload, name=upload.name or "")
    except UploadRefused as refused:
        status = 413 if refused.code == "too_large" else 400
        return _upload_page(request, finding, refused.message, status=status)
    evidence, created = evidence_ingest(
        agency=request.membership.agency,
        data=upload,
        kind=EvidenceKind.UPLOAD,
        collected_by=request.user,
        finding=finding,
        original_name=validated.display_name,
        media_type=validated.file_type.media_type,
        width=validated.width,
        height=validated.height,
    )
    if created:
        messages.success(
            request, _("Evidence stored. SHA-256 at collection: %(sha)s") % {"sha": evidence.sha256}
        )
    else:
        messages.info(
            request,
            _(
                "This file is already stored as evidence #%(id)s (same SHA-256); nothing new was stored."
            )
            % {"id": evidence.pk},
        )
    return redirect("evidence_detail", pk=evidence.pk)
