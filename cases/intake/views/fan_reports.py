"""The public fan report page: no login, never any media, rate-limited, with a honeypot."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods
from django_ratelimit.decorators import ratelimit

from cases.intake.canonical import InvalidURL
from cases.intake.forms import FanReportForm
from cases.intake.selectors import fan_report_agency_get, fan_report_artists
from cases.intake.services.fan_reports import fan_report_submit


def fan_report_rate(group: str, request: HttpRequest) -> str:
    # Read per request (not at import) so the rate follows the settings of the moment.
    return settings.FAN_REPORT_RATE


@require_http_methods(["GET", "POST"])
@ratelimit(key="ip", rate=fan_report_rate, method="POST", block=False)
def fan_report(request: HttpRequest, agency_slug: str) -> HttpResponse:
    agency = fan_report_agency_get(agency_slug)
    artists = fan_report_artists(agency)
    if request.method == "POST" and getattr(request, "limited", False):
        form = FanReportForm(request.POST, artists=artists)
        return render(
            request,
            "cases/fan_report.html",
            {"agency": agency, "form": form, "limited": True},
            status=429,
        )
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
