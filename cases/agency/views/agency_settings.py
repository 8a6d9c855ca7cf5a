"""The agency's own settings, for its admins: who must use two-factor login, and the time
zone every time is shown in."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.agency.services.agency_zone import agency_set_time_zone
from cases.agency.services.twofactor import agency_set_require_two_factor
from cases.agency.timezones import time_zone_choices
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
    time_zone = forms.ChoiceField(
        label=gettext_lazy("Time zone"),
        required=False,
        help_text=gettext_lazy(
            "Every time on your members' pages, in notices and in dossiers is shown in this "
            "zone, with its label; evidence times also show UTC."
        ),
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        default = _("The deployment's time zone (%(zone)s)") % {"zone": settings.TIME_ZONE}
        self.fields["time_zone"].choices = [("", default), *time_zone_choices()]  # type: ignore[attr-defined]


# Always the admin's own agency: there is no agency id to tamper with.
@member_required(read=Role.ADMIN, write=Role.ADMIN)
def agency_settings(request: HtmxHttpRequest) -> HttpResponse:
    agency = request.membership.agency
    # An unticked box sends nothing: a POST is bound even when its body is empty.
    form = AgencySecurityForm(
        request.POST if request.method == "POST" else None,
        initial={"require_two_factor": agency.require_two_factor, "time_zone": agency.time_zone},
    )
    if request.method == "POST" and form.is_valid():
        agency_set_require_two_factor(
            agency=agency,
            actor=request.user,
            required=form.cleaned_data["require_two_factor"],
        )
        if "time_zone" in request.POST:  # a form without the field leaves the zone as it is
            agency_set_time_zone(
                agency=agency, actor=request.user, time_zone=form.cleaned_data["time_zone"]
            )
        messages.success(request, _("Agency settings saved."))
        return redirect("agency_settings")
    return render(request, "cases/agency_settings.html", {"form": form, "agency": agency})
