"""The second login step, enforced for every request (after django-otp's OTPMiddleware).

A session that passed only the password is verified (request.user.is_verified()) once the
user typed a code from their authenticator or a recovery code. Until then it reaches only
the second-step page (users with an authenticator) or the enrolment page (users who must
have one and have none yet: admins, and everyone in an agency that requires it), plus
logging out and switching the language. Everything else redirects there; the API answers
403. Requests with an API token are not concerned: a token is a separate credential that
never carries a session (docs/deploy.md)."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import Resolver404, resolve, reverse
from django.utils.translation import gettext as _

from cases.agency.services.twofactor import twofactor_enabled, twofactor_required

ALWAYS_OPEN = {"logout", "set_language", "healthz", "readyz"}


def twofactor_step(request: HttpRequest) -> str | None:
    """The URL name the session must go through first, or None when it may go anywhere."""
    if not request.user.is_authenticated:
        return None
    user = request.user
    # OTPMiddleware (before this one) gives every user is_verified().
    if user.is_verified():  # type: ignore[attr-defined]
        return None
    if twofactor_enabled(user):
        return "twofactor_verify"
    if twofactor_required(user):
        return "twofactor_setup"
    return None


def _url_name(request: HttpRequest) -> str | None:
    try:
        return resolve(request.path_info).url_name
    except Resolver404:
        return None


def _token_api_call(request: HttpRequest) -> bool:
    """An API call with a token: DRF authenticates it by the token alone (TokenAuthentication
    comes first and never falls back to the session), so the session's step does not matter.
    Only under /api/: on a page the session would still be the one that counts."""
    return request.path_info.startswith("/api/") and request.headers.get(
        "Authorization", ""
    ).startswith("Token ")


class TwoFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if _token_api_call(request):
            return self.get_response(request)
        step = twofactor_step(request)
        if step is None:
            return self.get_response(request)
        name = _url_name(request)
        if name == step or name in ALWAYS_OPEN:
            return self.get_response(request)
        if request.path_info.startswith("/api/"):
            return JsonResponse({"detail": _("Two-factor verification required.")}, status=403)
        target = reverse(step)
        if request.method == "GET":
            target += "?" + urlencode({"next": request.get_full_path()})
        response = HttpResponseRedirect(target)
        if request.headers.get("HX-Request"):
            response["HX-Redirect"] = target
        return response
