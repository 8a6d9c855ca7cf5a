"""Body-size limits for public pages, enforced before anything reads the request body.

A view marked with `@body_limit("SETTING")` accepts a POST only when it declares its length
(Content-Length) and that length is at most the setting's value. BodyLimitMiddleware checks
this in `process_view`, which Django calls in middleware order once the URL is resolved: it is
listed before CsrfViewMiddleware, whose own `process_view` reads request.POST (the whole body,
spooling files to disk). A refused request never has its body read; the proxy in front
(docker/nginx.conf) holds the same line for the same paths.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from django.conf import settings
from django.core.checks import Error, register
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.template.defaultfilters import filesizeformat

View = TypeVar("View", bound=Callable[..., HttpResponseBase])
# Methods whose body Django never reads.
BODYLESS_METHODS = ("GET", "HEAD", "OPTIONS")


def body_limit(setting: str) -> Callable[[View], View]:
    """Mark a view: its request bodies may be at most `settings.<setting>` bytes."""

    def decorator(view: View) -> View:
        view.body_limit_setting = setting  # type: ignore[attr-defined]
        return view

    return decorator


def _declared_length(request: HttpRequest) -> int | None:
    if "HTTP_TRANSFER_ENCODING" in request.META:
        # Chunked: the length is known only once the body has been read.
        return None
    try:
        length = int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None
    return length if length >= 0 else None


class BodyLimitMiddleware:
    """Answers 413 (too large) or 411 (length not declared) for views marked with
    body_limit, without touching request.body, request.POST or request.FILES."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., Any],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        setting = getattr(view_func, "body_limit_setting", None)
        if setting is None or request.method in BODYLESS_METHODS:
            return None
        limit: int = getattr(settings, setting)
        length = _declared_length(request)
        if length is None:
            return _refusal(request, limit=limit, status=411)
        if length > limit:
            return _refusal(request, limit=limit, status=413)
        return None


def _refusal(request: HttpRequest, *, limit: int, status: int) -> HttpResponse:
    return render(
        request,
        "partials/body_refused.html",
        {"limit": filesizeformat(limit), "status": status},
        status=status,
    )


MIDDLEWARE_PATH = "cases.kernel.bodylimit.BodyLimitMiddleware"
CSRF_MIDDLEWARE_PATH = "django.middleware.csrf.CsrfViewMiddleware"


@register()
def body_limit_middleware_check(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    """Without the middleware, or after the CSRF check (which reads every POST body), the
    limits of body_limit views would be enforced only after the whole body was read."""
    middleware = list(settings.MIDDLEWARE)
    if MIDDLEWARE_PATH not in middleware:
        problem = f"{MIDDLEWARE_PATH} is not in MIDDLEWARE"
    elif CSRF_MIDDLEWARE_PATH in middleware and middleware.index(
        CSRF_MIDDLEWARE_PATH
    ) < middleware.index(MIDDLEWARE_PATH):
        problem = f"{MIDDLEWARE_PATH} comes after {CSRF_MIDDLEWARE_PATH}"
    else:
        return []
    return [
        Error(
            f"{problem}: request bodies of public pages would be read before their size "
            "limit is checked.",
            hint=f"List {MIDDLEWARE_PATH} before {CSRF_MIDDLEWARE_PATH} (cases.kernel.bodylimit).",
            id="cases.E150",
        )
    ]
