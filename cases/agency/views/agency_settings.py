"""The agency's own settings, for its admins: who must use two-factor login."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.agency.services.twofactor import agency_set_require_two_factor
from cases.kernel.models import Role
from cases.kernel.web import HtmxHttpRequest, member_required


class AgencySecurityForm(forms.Form):
    require_two_factor = forms.BooleanField(
        label=gettext_lazy("Require two-factor login for everyone"),
        required=False,
        help_text=gettext_lazy(
            "Admins always need it. When this is on, legal staff and viewers are asked to set "
            "it up at their next page view, and cannot use AgencyGuard until they have."
        ),
    )


# Always the admin's own agency: there is no agency id to tamper with.
@member_required(read=Role.ADMIN, write=Role.ADMIN)
def agency_settings(request: HtmxHttpRequest) -> HttpResponse:
    agency = request.membership.agency
    # An unticked box sends nothing: a POST is bound even when its body is empty.
    form = AgencySecurityForm(
        request.POST if request.method == "POST" else None,
        initial={"require_two_factor": agency.require_two_factor},
    )
    if request.method == "POST" and form.is_valid():
        agency_set_require_two_factor(
            agency=agency,
            actor=request.user,
            required=form.cleaned_data["require_two_factor"],
        )
        messages.success(request, _("Agency settings saved."))
        return redirect("agency_settings")
    return render(request, "cases/agency_settings.html", {"form": form, "agency": agency})
