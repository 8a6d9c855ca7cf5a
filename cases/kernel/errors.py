"""Error pages of the whole site (handler400/404/500 in agencyguard/urls.py). Under /api/ the
answer is the JSON body the API documents for errors (`{"detail": ...}`,
cases/kernel/api_schema.py), also when Django itself refuses a request before any API view
runs: a URL no API pattern matches, a malformed body or header."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext as _
from django.views import defaults

log = logging.getLogger(__name__)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": _("Bad request.")}, status=400)
    return defaults.bad_request(request, exception)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": _("Not found.")}, status=404)
    return defaults.page_not_found(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if _is_api(request):
        return JsonResponse({"detail": _("Server error.")}, status=500)
    return defaults.server_error(request)


# SQLite (the embedded stack) has one writer at a time; a request that waited its whole busy
# timeout (20 s) for the lock gets this instead of a 500. PostgreSQL never says it.
DATABASE_BUSY_RETRY_AFTER_S = 5


def database_busy(request: HttpRequest) -> HttpResponse:
    """503 with Retry-After: nothing was written (the transaction rolled back), so the same
    request can simply be sent again."""
    if _is_api(request):
        response: HttpResponse = JsonResponse(
            {"detail": _("The database is busy. Nothing was saved; try again in a moment.")},
            status=503,
        )
    else:
        response = TemplateResponse(request, "503.html", status=503).render()
    response["Retry-After"] = str(DATABASE_BUSY_RETRY_AFTER_S)
    return response


class DatabaseBusyMiddleware:
    """Turns SQLite's "database is locked" (a writer held the lock past the busy timeout)
    into database_busy's 503 instead of a server error."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, OperationalError) and "database is locked" in str(exception):
            log.warning("database busy: %s %s answered 503", request.method, request.path)
            return database_busy(request)
        return None
