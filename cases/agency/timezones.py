"""Each agency's own time zone for its members' requests (after AuthenticationMiddleware).

A member's pages show every time in their agency's zone (Agency.time_zone, or the
deployment's TIME_ZONE when unset); anonymous pages, and API requests (the API speaks UTC),
use the deployment's zone. The membership lookup is the one every page makes anyway
(cached on the user for the request), so this costs no query of its own on a page."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from cases.kernel.tenancy import agency_for
from cases.kernel.times import zone_named


def time_zone_choices() -> list[tuple[str, str]]:
    """Every IANA zone name this machine's time zone database has, sorted, for a form."""
    return [(name, name) for name in sorted(zoneinfo.available_timezones())]


class AgencyTimeZoneMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        agency = agency_for(request.user) if request.user.is_authenticated else None
        zone = zone_named(agency.time_zone) if agency is not None else None
        if zone is not None:
            timezone.activate(zone)
        else:
            timezone.deactivate()  # the deployment's TIME_ZONE
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
