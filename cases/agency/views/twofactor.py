"""Two-factor login pages: enrolment (and, once enrolled, new recovery codes and disabling)
and the second login step. cases.agency.middleware sends every password-only session here;
the services are in cases.agency.services.twofactor."""

from __future__ import annotations

import segno
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from cases.agency.services import twofactor as services
from cases.kernel.web import HtmxHttpRequest, redirect_back

BARE = "account/twofactor_bare.html"


class CodeForm(forms.Form):
    code = forms.CharField(
        label=gettext_lazy("Code"),
        max_length=64,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autofocus": True, "spellcheck": "false"}
        ),
    )


def _verified(request: HtmxHttpRequest) -> bool:
    return bool(request.user.is_verified())  # type: ignore[attr-defined]


def _recovery_codes_page(request: HtmxHttpRequest, codes: list[str], base: str) -> HttpResponse:
    return render(
        request, "account/twofactor_recovery_codes.html", {"codes": codes, "base_template": base}
    )


@never_cache  # shows the secret, and recovery codes once
@login_required
def twofactor_setup(request: HtmxHttpRequest) -> HttpResponse:
    device = services.twofactor_device(request.user)
    if device is not None:
        if not _verified(request):
            return redirect("twofactor_verify")
        context = {
            "codes_left": services.recovery_codes_left(request.user),
            "required": services.twofactor_required(request.user),
            "form": CodeForm(),
        }
        return render(request, "account/twofactor_manage.html", context)

    # Not enrolled: the session passed only the password, and that is enough to enrol (an
    # admin is sent here right after the password and can do nothing else first).
    base = (
        "base.html" if _verified(request) or not services.twofactor_required(request.user) else BARE
    )
    pending = services.twofactor_enrol_start(user=request.user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        codes = services.twofactor_enrol_confirm(
            user=request.user, device=pending, code=form.cleaned_data["code"]
        )
        if codes is not None:
            pending.refresh_from_db()
            otp_login(request, pending)
            request.session.cycle_key()
            messages.success(request, _("Two-factor login is on."))
            return _recovery_codes_page(request, codes, "base.html")
        form.add_error("code", _("That code is not right. Check the time on your phone."))
    context = {
        "form": form,
        "qr": segno.make(pending.config_url, error="m").svg_data_uri(scale=4),
        "secret": services.secret_text(pending),
        "base_template": base,
        "required": services.twofactor_required(request.user),
    }
    return render(request, "account/twofactor_setup.html", context)


@never_cache
@login_required
def twofactor_verify(request: HtmxHttpRequest) -> HttpResponse:
    """The second login step: a code from the authenticator, or one recovery code."""
    if _verified(request) or services.twofactor_device(request.user) is None:
        return redirect_back(request, "dashboard")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        outcome = services.twofactor_verify(user=request.user, code=form.cleaned_data["code"])
        if outcome.device is not None:
            otp_login(request, outcome.device)
            request.session.cycle_key()
            if outcome.recovery:
                left = services.recovery_codes_left(request.user)
                messages.warning(
                    request,
                    _(
                        "You used a recovery code; %(left)s left. Make new ones in your "
                        "two-factor settings if you are running out."
                    )
                    % {"left": left},
                )
            return redirect_back(request, "dashboard")
        if outcome.wait_seconds:
            form.add_error(
                "code",
                _("Too many wrong codes. Wait %(seconds)s seconds and try again.")
                % {"seconds": outcome.wait_seconds},
            )
        else:
            form.add_error("code", _("That code is not right, or it was already used."))
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    return render(request, "account/twofactor_verify.html", {"form": form, "next": next_url})


@never_cache
@require_POST
@login_required
def twofactor_recovery_codes(request: HtmxHttpRequest) -> HttpResponse:
    """New recovery codes replace the old ones; shown once, in this response."""
    if services.twofactor_device(request.user) is None or not _verified(request):
        return redirect("twofactor_setup")
    codes = services.twofactor_recovery_regenerate(user=request.user)
    return _recovery_codes_page(request, codes, "base.html")


@require_POST
@login_required
def twofactor_disable(request: HtmxHttpRequest) -> HttpResponse:
    """Turn two-factor login off; a current code (or a recovery code) proves the holder."""
    if services.twofactor_device(request.user) is None or not _verified(request):
        return redirect("twofactor_setup")
    form = CodeForm(request.POST)
    if form.is_valid() and services.twofactor_disable(
        user=request.user, code=form.cleaned_data["code"]
    ):
        if services.twofactor_required(request.user):
            messages.warning(
                request, _("Two-factor login is off. Your role requires it: set it up again.")
            )
        else:
            messages.success(request, _("Two-factor login is off."))
        return redirect("twofactor_setup")
    messages.error(request, _("Two-factor login is still on: that code is not right."))
    return redirect("twofactor_setup")
