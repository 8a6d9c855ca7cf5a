"""Captures in the UI: request one from the finding page, watch its progress (htmx polls a
small partial with a real <progress> bar), and read the capture record with its evidence.

The finding page includes templates/cases/_capture_panel.html, which loads the panel from
`capture_panel`; the panel reloads itself when a capture it shows finishes (the progress
partial sends the `capture-finished` event)."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_POST

from cases.evidence.models import Capture, CaptureStatus, EvidenceKind
from cases.evidence.selectors import capture_get_for, capture_list_for
from cases.evidence.services.captures import ACTIVE
from cases.evidence.services.captures import capture_request as capture_request_service
from cases.evidence.services.captures import capture_retry as capture_retry_service
from cases.intake.selectors import finding_get_for
from cases.kernel.jobs import JobNotRetryable
from cases.kernel.models import Role
from cases.kernel.tenancy import can_write
from cases.kernel.web import HtmxHttpRequest, job_queued_message, member_required

PANEL_SIZE = 10
STEP_LABELS = {
    "queued": gettext_lazy("Waiting for a worker"),
    "fetching": gettext_lazy("Visiting the page"),
    "saving": gettext_lazy("Saving the HTML and HTTP headers"),
    "screenshot": gettext_lazy("Taking the full-page screenshot"),
    "media": gettext_lazy("Collecting the embedded media"),
    "warc": gettext_lazy("Writing the WARC file"),
    "wacz": gettext_lazy("Packaging the WACZ web archive"),
    "storing": gettext_lazy("Storing the evidence"),
    "done": gettext_lazy("Finished"),
}

# What the page did while it was open (cases.evidence.capture.browser.session, Session.note).
NAVIGATION_LABELS = {
    "loaded": gettext_lazy("Loaded (the captured document)"),
    "blocked": gettext_lazy("Navigation blocked"),
    "same_document": gettext_lazy("Address changed by the page (same document)"),
    "document_opened": gettext_lazy("Document rewritten by the page (document.open/write)"),
    "left": gettext_lazy("Left the captured document"),
}


def _kind_label(kind: str) -> str:
    return str(EvidenceKind(kind).label) if kind in EvidenceKind.values else kind


def _labelled(capture: Capture) -> Capture:
    step = capture.step or capture.status  # a retried capture has no step yet: "queued"
    capture.step_label = STEP_LABELS.get(step, capture.step)  # type: ignore[attr-defined]
    capture.is_active = capture.status in ACTIVE  # type: ignore[attr-defined]
    return capture


def _panel_context(request: HtmxHttpRequest, finding_pk: int) -> dict[str, Any]:
    finding = finding_get_for(request.user, finding_pk)
    captures = [
        _labelled(capture)
        for capture in capture_list_for(request.user)
        .filter(finding=finding)
        .defer("headers", "tool_settings")[:PANEL_SIZE]
    ]
    return {
        "finding": finding,
        "captures": captures,
        "active": next((c for c in captures if c.is_active), None),  # type: ignore[attr-defined]
        "can_write": can_write(request.user),
    }


@require_GET
@member_required()
def capture_panel(request: HtmxHttpRequest, finding_pk: int) -> HttpResponse:
    """The captures of one finding (a partial, loaded into the finding page)."""
    return render(request, "cases/capture_panel.html", _panel_context(request, finding_pk))


@require_POST
@member_required(write=Role.LEGAL)
def capture_request(request: HtmxHttpRequest, finding_pk: int) -> HttpResponse:
    finding = finding_get_for(request.user, finding_pk)
    capture = capture_request_service(finding=finding, actor=request.user)
    if request.htmx:
        return render(request, "cases/capture_panel.html", _panel_context(request, finding_pk))
    if capture.status == CaptureStatus.QUEUED:
        job_queued_message(request, capture, _("Capture #%(id)s is queued.") % {"id": capture.pk})
    else:
        messages.info(request, _("Capture #%(id)s is already running.") % {"id": capture.pk})
    return redirect(reverse("finding_detail", args=[finding.pk]) + "#captures")


@require_POST
@member_required(write=Role.LEGAL)
def capture_retry(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Run again a capture whose worker gave up before the visit (same row, audited)."""
    capture = capture_get_for(request.user, pk)
    try:
        capture_retry_service(capture=capture, actor=request.user)
    except JobNotRetryable as exc:
        messages.error(request, str(exc))
    else:
        job_queued_message(
            request, capture, _("Capture #%(id)s is queued again.") % {"id": capture.pk}
        )
    if request.htmx:
        return render(
            request, "cases/capture_panel.html", _panel_context(request, capture.finding_id)
        )
    return redirect("capture_detail", pk=capture.pk)


@require_GET
@member_required()
def capture_progress(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The progress partial. While the capture runs, htmx polls it; once finished, the
    response stops the polling and tells the page (event `capture-finished`)."""
    capture = _labelled(capture_get_for(request.user, pk))
    response = render(request, "cases/capture_progress.html", {"capture": capture})
    if not capture.is_active:  # type: ignore[attr-defined]
        response["HX-Trigger"] = "capture-finished"
    return response


@require_GET
@member_required()
def capture_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    capture = _labelled(capture_get_for(request.user, pk))
    details = capture.details or {}
    context = {
        "capture": capture,
        "finding": capture.finding,
        "artefacts": [
            {**item, "kind_label": _kind_label(item.get("kind", ""))}
            for item in details.get("artefacts", [])
        ],
        "browser": details.get("browser") or {},
        "media_log": details.get("media") or [],
        "refused": (details.get("browser") or {}).get("refused") or [],
        "navigations": [
            {**item, "label": NAVIGATION_LABELS.get(item.get("action", ""), item.get("action"))}
            for item in (details.get("browser") or {}).get("navigations") or []
        ],
        "wacz": details.get("wacz") or {},
        "header_items": sorted((capture.headers or {}).items()),
        "settings_json": json.dumps(capture.tool_settings, indent=2, ensure_ascii=False),
        "can_write": can_write(request.user),
    }
    return render(request, "cases/capture_detail.html", context)
