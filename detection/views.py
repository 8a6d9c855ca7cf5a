"""Detection pages: the evidence panel (htmx-polled while a run is in progress), the
re-run, retry and review actions, and the detector versions with their model cards."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_POST

from cases.kernel.models import Role
from cases.kernel.web import HtmxHttpRequest, job_queued_message, member_required, redirect_back
from detection.forms import DetectionReviewForm
from detection.selectors import (
    detection_evidence_get_for,
    detection_panel_for,
    detection_run_get_for,
    detection_runs_for,
    detector_version_get_for,
    detector_version_list_for,
)
from detection.services import runs
from detection.services.detectors import detector_active
from detection.services.reviews import detection_review_record
from detection.services.runs import DetectionError, detection_run_request, detection_run_retry

PANEL_TEMPLATE = "detection/_evidence_detection_panel.html"


def _panel_response(request: HtmxHttpRequest, evidence_pk: int) -> HttpResponse:
    evidence = detection_evidence_get_for(request.user, evidence_pk)
    panel = detection_panel_for(request.user, evidence)
    context = {
        "panel": panel,
        "review_form": DetectionReviewForm(),
        # Plain (non-htmx) form posts from a polled panel return to the evidence page.
        "next_url": reverse("evidence_detail", args=[evidence.pk]),
    }
    return render(request, PANEL_TEMPLATE, context)


def _back(request: HtmxHttpRequest, evidence_pk: int) -> HttpResponse:
    """htmx posts get the fresh panel; plain form posts go back where they came from."""
    if request.htmx:
        return _panel_response(request, evidence_pk)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        target = reverse("evidence_detail", args=[evidence_pk]) + "#detection"
    return HttpResponseRedirect(target)


@require_GET
@member_required()
def evidence_detection(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """The panel alone: what the page polls while a run is queued or running."""
    return _panel_response(request, pk)


@require_POST
@member_required()
def evidence_detection_rerun(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    evidence = detection_evidence_get_for(request.user, pk)
    try:
        run = detection_run_request(evidence=evidence, actor=request.user)
    except DetectionError as exc:
        messages.error(request, str(exc))
    else:
        job_queued_message(request, run, _("Detection queued. This page updates when it finishes."))
    return _back(request, evidence.pk)


@require_POST
@member_required()
def evidence_detection_retry(request: HtmxHttpRequest, pk: int, run_pk: int) -> HttpResponse:
    """Run a failed run again (the same run, audited as detection.retried)."""
    evidence = detection_evidence_get_for(request.user, pk)
    run = detection_run_get_for(request.user, evidence, run_pk)
    try:
        detection_run_retry(run=run, actor=request.user)
    except DetectionError as exc:
        messages.error(request, str(exc))
    else:
        job_queued_message(
            request, run, _("Detection queued again. This page updates when it finishes.")
        )
    return _back(request, evidence.pk)


@require_POST
@member_required()
def evidence_detection_review(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    evidence = detection_evidence_get_for(request.user, pk)
    form = DetectionReviewForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose confirmed fake, not fake or unsure."))
        return _back(request, evidence.pk)
    run_id = form.cleaned_data.get("run")
    # The run must be one of this evidence item's own (and so of the user's agency).
    run = detection_runs_for(request.user, evidence).filter(pk=run_id).first() if run_id else None
    try:
        review = detection_review_record(
            evidence=evidence,
            verdict=form.cleaned_data["verdict"],
            actor=request.user,
            note=form.cleaned_data["note"],
            run=run,
        )
    except DetectionError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request, _("Verdict recorded: %(verdict)s.") % {"verdict": review.get_verdict_display()}
        )
    return _back(request, evidence.pk)


@require_GET
@member_required()
def detector_list(request: HtmxHttpRequest) -> HttpResponse:
    versions = list(detector_version_list_for(request.user))
    return render(
        request,
        "detection/detector_list.html",
        {"versions": versions, "active": detector_active()},
    )


@require_GET
@member_required()
def detector_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """One model card: what the model is, its quality gates (value, threshold, pass or fail),
    whether its numbers are calibrated, and the caveats that go with every number it shows."""
    version = detector_version_get_for(request.user, pk)
    return render(
        request,
        "detection/detector_detail.html",
        {"version": version, "active": detector_active()},
    )


@require_POST
@member_required(read=Role.ADMIN, write=Role.ADMIN)
def detection_rerun_all(request: HtmxHttpRequest) -> HttpResponse:
    """Queue detection again for every image and video of the admin's agency."""
    count = runs.detection_rerun_all(agency=request.membership.agency, actor=request.user)
    if count:
        messages.success(
            request,
            ngettext(
                "Detection queued for %(count)s item.",
                "Detection queued for %(count)s items.",
                count,
            )
            % {"count": count},
        )
    else:
        messages.info(request, _("No images or videos to analyse (or all are already queued)."))
    return redirect_back(request, "detector_list")
