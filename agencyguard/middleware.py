"""Response headers every page gets, and the request id every request runs under."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from cases.kernel.requestid import request_id_bound

# No inline scripts anywhere: htmx and our own JS come from /static/. htmx injects
# small inline styles for its indicators, hence style-src 'unsafe-inline'.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; "
    "base-uri 'self'; form-action 'self'; object-src 'none'"
)


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault(
            "Permissions-Policy", "camera=(), microphone=(), geolocation=()"
        )
        return response


REQUEST_ID_HEADER = "X-Request-ID"


class RequestIdMiddleware:
    """Binds the request's id for everything the request does (log lines, queued tasks:
    cases.kernel.requestid) and names it in the `X-Request-ID` response header.

    The id is the proxy's `X-Request-ID` when it is well-formed (nginx: `proxy_set_header
    X-Request-ID $request_id;`), so the proxy's access log and ours share it; otherwise a
    fresh one. First in MIDDLEWARE, so every other middleware runs inside it."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        with request_id_bound(request.headers.get(REQUEST_ID_HEADER, "")) as request_id:
            response = self.get_response(request)
        response.headers[REQUEST_ID_HEADER] = request_id
        return response
