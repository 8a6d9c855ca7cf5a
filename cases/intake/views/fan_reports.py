"""The public fan report page: no login, never any media shown, rate-limited (a moving
window per client address), a body limit checked before the body is read, with a honeypot.

The pages speak the fan's language (settings.FAN_LANGUAGES, chosen by
cases.intake.fan_languages), activated only while they render; the staff interface keeps
settings.LANGUAGES."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import translation
from django.views.decorators.http import require_GET, require_http_methods

from cases.intake.canonical import InvalidURL
from cases.intake.fan_languages import (
    FAN_LANGUAGE_COOKIE,
    FAN_LANGUAGE_COOKIE_AGE,
    FAN_LANGUAGE_PARAM,
    FanLanguageChoice,
    fan_language_for,
    fan_languages,
)
from cases.intake.forms import FanReportForm
from cases.intake.selectors import fan_report_agency_get, fan_report_artists
from cases.intake.services.fan_reports import fan_report_submit
from cases.kernel.bodylimit import body_limit
from cases.kernel.net.clientip import client_ip
from cases.kernel.ratelimit import client_address, rate_limit_hit


def _in_language(response: HttpResponse, choice: FanLanguageChoice) -> HttpResponse:
    # LocaleMiddleware only sets Content-Language when the view left it unset.
    response["Content-Language"] = choice.code
    response.headers.setdefault("Vary", "Accept-Language, Cookie")
    if choice.from_switch:
        response.set_cookie(
            FAN_LANGUAGE_COOKIE,
            choice.code,
            max_age=FAN_LANGUAGE_COOKIE_AGE,
            samesite="Lax",
            secure=settings.SESSION_COOKIE_SECURE,
            httponly=True,
        )
    return response


def _page(
    request: HttpRequest, template: str, context: dict[str, object], *, status: int = 200
) -> HttpResponse:
    context = {**context, "fan_languages": fan_languages(), "lang_param": FAN_LANGUAGE_PARAM}
    return render(request, template, context, status=status)


def _thanks_url(request: HttpRequest, agency_slug: str, code: str) -> str:
    """The thank-you page, in the language the switch chose when it chose one (otherwise
    the browser's choice applies there again, as it did here)."""
    url = reverse("fan_report_thanks", args=[agency_slug])
    if FAN_LANGUAGE_PARAM not in request.GET:
        return url
    return f"{url}?{urlencode({FAN_LANGUAGE_PARAM: code})}"


@body_limit("FAN_REPORT_MAX_BYTES")
@require_http_methods(["GET", "POST"])
def fan_report(request: HttpRequest, agency_slug: str) -> HttpResponse:
    choice = fan_language_for(request)
    with translation.override(choice.code):
        return _in_language(_fan_report(request, agency_slug, choice.code), choice)


def _fan_report(request: HttpRequest, agency_slug: str, code: str) -> HttpResponse:
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
            response = _page(
                request,
                "cases/fan_report.html",
                {"agency": agency, "form": form, "limited": True},
                status=429,
            )
            response["Retry-After"] = str(decision.retry_after)
            return response
    form = FanReportForm(request.POST or None, request.FILES or None, artists=artists)
    if request.method == "POST":
        if form.is_bot:
            # Pretend it worked: a bot that learns nothing keeps nothing to retry.
            return HttpResponseRedirect(_thanks_url(request, agency.slug, code))
        if form.is_valid():
            try:
                fan_report_submit(
                    agency=agency,
                    url=form.cleaned_data["url"],
                    artist=form.cleaned_data["artist"],
                    description=form.cleaned_data["description"],
                    contact=form.cleaned_data["contact"],
                    client_address=client_ip(request),
                    screenshot=form.cleaned_data["screenshot"],
                )
            except InvalidURL as exc:
                form.add_error("url", str(exc))
            else:
                # The same page for a new report, a repeat, a matched screenshot or none.
                return HttpResponseRedirect(_thanks_url(request, agency.slug, code))
    return _page(request, "cases/fan_report.html", {"agency": agency, "form": form})


@require_GET
def fan_report_thanks(request: HttpRequest, agency_slug: str) -> HttpResponse:
    choice = fan_language_for(request)
    with translation.override(choice.code):
        agency = fan_report_agency_get(agency_slug)
        response = _page(request, "cases/fan_report_thanks.html", {"agency": agency})
    return _in_language(response, choice)
