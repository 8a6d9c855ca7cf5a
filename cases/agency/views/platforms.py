from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from cases.agency.forms import PlatformForm
from cases.agency.selectors import platform_list_for
from cases.agency.services.platform_admin import platform_update as platform_update_service
from cases.kernel.models import Role
from cases.kernel.tenancy import get_or_404
from cases.kernel.web import HtmxHttpRequest, member_required, paginate


@require_GET
@member_required()
def platform_list(request: HtmxHttpRequest) -> HttpResponse:
    page = paginate(request, platform_list_for(request.user).order_by("name"))
    return render(request, "cases/platform_list.html", {"page": page})


@member_required(read=Role.ADMIN, write=Role.ADMIN)
def platform_update(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    platforms = platform_list_for(request.user)
    platform = get_or_404(platforms, pk=pk)
    form = PlatformForm(
        request.POST if request.method == "POST" else None, platforms=platforms, platform=platform
    )
    if request.method == "POST" and form.is_valid():
        platform_update_service(platform=platform, actor=request.user, **form.cleaned_data)
        messages.success(
            request, _("Platform %(name)s updated.") % {"name": form.cleaned_data["name"]}
        )
        return redirect("platform_list")
    return render(request, "cases/platform_form.html", {"form": form, "platform": platform})
