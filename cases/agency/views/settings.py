from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from rest_framework.authtoken.models import Token

from cases.agency.forms import PreferencesForm
from cases.agency.services.user_settings import (
    api_token_revoke,
    api_token_rotate,
    membership_set_always_blur,
)
from cases.kernel.models import Role
from cases.kernel.web import HtmxHttpRequest, member_required


# Every member, viewers included, manages their own preferences and API token: these are
# not writes to the agency's data (a viewer's token can only read, see cases.kernel.api).
# The page has one section per concern (templates/account/_settings_*.html).
@never_cache  # the page may show a fresh API key
@member_required(write=Role.VIEWER)
def user_settings(request: HtmxHttpRequest) -> HttpResponse:
    membership = request.membership
    new_token = None
    form = PreferencesForm(initial={"always_blur": membership.always_blur})
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "token":
            # The key is shown in this response only; later visits show its last characters.
            new_token = api_token_rotate(membership=membership).key
        elif action == "token_revoke":
            if api_token_revoke(membership=membership):
                messages.success(request, _("API token revoked. It no longer works."))
            return redirect("user_settings")
        else:
            form = PreferencesForm(request.POST)
            if form.is_valid():
                membership_set_always_blur(
                    membership=membership, always_blur=form.cleaned_data["always_blur"]
                )
                messages.success(request, _("Preferences saved."))
                return redirect("user_settings")
    token = Token.objects.filter(user=request.user).only("key", "created").first()
    context = {
        "form": form,
        "new_token": new_token,
        "token": token,
        # The rest of the key is never shown again: enough to tell two tokens apart.
        "token_hint": token.key[-4:] if token and not new_token else "",
    }
    return render(request, "cases/user_settings.html", context)
