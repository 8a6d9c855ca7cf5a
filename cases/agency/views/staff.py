from __future__ import annotations

import logging

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from cases.agency.forms import StaffCreateForm, StaffUpdateForm
from cases.agency.services.account import password_reset_send
from cases.agency.services.tenancy import membership_create, membership_update
from cases.kernel.models import Role
from cases.kernel.tenancy import get_or_404, membership_list_for
from cases.kernel.web import HtmxHttpRequest, member_required, paginate

admin_only = member_required(read=Role.ADMIN, write=Role.ADMIN)
log = logging.getLogger(__name__)


@require_GET
@admin_only
def staff_list(request: HtmxHttpRequest) -> HttpResponse:
    members = membership_list_for(request.user).order_by("user__username")
    return render(request, "cases/staff_list.html", {"page": paginate(request, members)})


@admin_only
def staff_create(request: HtmxHttpRequest) -> HttpResponse:
    form = StaffCreateForm(request.POST or None, agency=request.membership.agency)
    if request.method == "POST" and form.is_valid():
        membership = membership_create(
            agency=request.membership.agency,
            actor=request.user,
            username=form.cleaned_data["username"],
            email=form.cleaned_data["email"],
            password=form.cleaned_data["password"],
            role=form.cleaned_data["role"],
        )
        messages.success(
            request,
            _("Account %(username)s created: they log in with this user name.")
            % {"username": membership.user.username},
        )
        return redirect("staff_list")
    return render(request, "cases/staff_form.html", {"form": form, "member": None})


@admin_only
def staff_update(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    members = membership_list_for(request.user)
    membership = get_or_404(members, pk=pk)
    admin_count = members.filter(role=Role.ADMIN, user__is_active=True).count()
    form = StaffUpdateForm(
        request.POST if request.method == "POST" else None,
        membership=membership,
        admin_count=admin_count,
    )
    if request.method == "POST" and form.is_valid():
        membership_update(
            membership=membership,
            actor=request.user,
            role=form.cleaned_data["role"],
            active=form.cleaned_data["active"],
        )
        messages.success(
            request, _("Account %(username)s updated.") % {"username": membership.user.username}
        )
        return redirect("staff_list")
    return render(request, "cases/staff_form.html", {"form": form, "member": membership})


@require_POST
@admin_only
def staff_password_reset(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """An admin e-mails a reset link to a member of their own agency (never anyone else's:
    the membership is looked up among the admin's own staff)."""
    membership = get_or_404(membership_list_for(request.user), pk=pk)
    user = membership.user
    name = {"username": user.get_username(), "email": user.email}
    if not user.is_active:
        messages.error(
            request,
            _("%(username)s is deactivated: activate the account before sending a reset link.")
            % name,
        )
    elif not user.email:
        messages.error(request, _("%(username)s has no e-mail address to send a link to.") % name)
    else:
        try:
            password_reset_send(user=user, actor=request.user, by_admin=True)
        except Exception:
            log.exception("could not e-mail a password reset link to user %s", user.pk)
            messages.error(request, _("The e-mail could not be sent. Try again later."))
        else:
            messages.success(
                request, _("A password reset link was sent to %(username)s at %(email)s.") % name
            )
    return redirect("staff_list")
