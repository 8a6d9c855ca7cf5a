"""A user's own account: changing the password, and the "Forgot your password?" pages with
Django's reset tokens. The reset pages are public; they never tell whether an account with
the address exists (the same answer, the same page, a rate limit that applies to any address)."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm, PasswordResetForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods
from django_ratelimit.core import is_ratelimited

from cases.agency.services.account import password_reset_request, user_password_set
from cases.kernel.tenancy import membership_for
from cases.kernel.web import HtmxHttpRequest

log = logging.getLogger(__name__)


# Every signed-in user, site operators without an agency too: login_required, not a role.
@sensitive_post_parameters()
@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def password_change(request: HtmxHttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.user, request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        user_password_set(
            user=request.user,
            password=form.cleaned_data["new_password1"],
            actor=request.user,
            action="password.changed",
        )
        # This session stays signed in; the user's other sessions end (their hash is stale).
        update_session_auth_hash(request, request.user)
        messages.success(request, _("Your password was changed. Other sessions were signed out."))
        return redirect("user_settings" if membership_for(request.user) else "password_change")
    return render(request, "account/password_change.html", {"form": form})


def _over_limit(request: HttpRequest, email: str) -> bool:
    """Counts this request against the address asked for and against the client; True when
    either is over its rate. Both count whether an account exists or not."""
    by_email = is_ratelimited(
        request,
        group="password_reset:email",
        key=lambda group, request: email.casefold(),
        rate=settings.PASSWORD_RESET_RATE_PER_EMAIL,
        increment=True,
    )
    by_ip = is_ratelimited(
        request,
        group="password_reset:ip",
        key="ip",
        rate=settings.PASSWORD_RESET_RATE_PER_IP,
        increment=True,
    )
    return bool(by_email or by_ip)


@sensitive_post_parameters("email")
@never_cache
@require_http_methods(["GET", "POST"])
def password_reset(request: HttpRequest) -> HttpResponse:
    form = PasswordResetForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        email = form.cleaned_data["email"]
        if _over_limit(request, email):
            log.warning("password reset rate limit reached; nothing sent")
        else:
            password_reset_request(users=list(form.get_users(email)))
        return redirect("password_reset_done")
    return render(request, "account/password_reset_form.html", {"form": form})


@require_GET
def password_reset_done(request: HttpRequest) -> HttpResponse:
    return render(request, "account/password_reset_done.html")


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """Django's view (the token moves from the URL into the session before the form shows,
    so it never leaks in a Referer), saving through our audited service instead."""

    template_name = "account/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form: Any) -> HttpResponse:
        user_password_set(
            user=form.user,
            password=form.cleaned_data["new_password1"],
            actor=form.user,
            action="password.reset_completed",
        )
        # The new password hash spends the token; drop the session copy too.
        del self.request.session[auth_views.INTERNAL_RESET_SESSION_TOKEN]
        return HttpResponseRedirect(self.get_success_url())


password_reset_confirm = PasswordResetConfirmView.as_view()


@require_GET
def password_reset_complete(request: HttpRequest) -> HttpResponse:
    return render(request, "account/password_reset_complete.html")
