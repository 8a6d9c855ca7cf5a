"""The public fan report page: no login, never any media, rate-limited (a moving window per
client address), a small body limit checked before the body is read, with a honeypot."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from cases.intake.canonical import InvalidURL
from cases.intake.forms import FanReportForm
from cases.intake.selectors import fan_report_agency_get, fan_report_artists
from cases.intake.services.fan_reports import fan_report_submit
from cases.kernel.bodylimit import body_limit
from cases.kernel.ratelimit import client_address, rate_limit_hit


@body_limit("FAN_REPORT_MAX_BYTES")
@require_http_methods(["GET", "POST"])
def fan_report(request: HttpRequest, agency_slug: str) -> HttpResponse:
    agency = fan_report_agency_get(agency_slug)
    artists = fan_report_artists(agency)
    if request.method == "POST":
        # Every post counts, bots and invalid forms too. The rate is read per request so it
        # follows the settings of the moment.
        decision = rate_limit_hit(
            scope="fan_report", key=client_address(request), rate=settings.FAN_REPORT_RATE
        )
        if not decision.allowed:
            form = FanReportForm(request.POST, artists=artists)
            response = render(
                request,
                "cases/fan_report.html",
                {"agency": agency, "form": form, "limited": True},
                status=429,
            )
            response["Retry-After"] = str(decision.retry_after)
            return response
    form = FanReportForm(request.POST or None, artists=artists)
    if request.method == "POST":
        if form.is_bot:
            # Pretend it worked: a bot that learns nothing keeps nothing to retry.
            return redirect("fan_report_thanks", agency_slug=agency.slug)
        if form.is_valid():
            try:
                fan_report_submit(
                    agency=agency,
                    url=form.cleaned_data["url"],
                    artist=form.cleaned_data["artist"],
                    description=form.cleaned_data["description"],
                    contact=form.cleaned_data["contact"],
                )
            except InvalidURL as exc:
                form.add_error("url", str(exc))
            else:
                return redirect("fan_report_thanks", agency_slug=agency.slug)
    return render(request, "cases/fan_report.html", {"agency": agency, "form": form})


@require_GET
def fan_report_thanks(request: HttpRequest, agency_slug: str) -> HttpResponse:
    agency = fan_report_agency_get(agency_slug)
    return render(request, "cases/fan_report_thanks.html", {"agency": agency})
