from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import SAFE_METHODS, BasePermission

from cases.selectors import can_write, is_agency_admin, membership_for


class IsAgencyMember(BasePermission):
    """Authenticated members of an agency; viewers may only read."""

    message = _("You are not a member of an agency.")

    def has_permission(self, request: Any, view: Any) -> bool:
        membership = membership_for(request.user)
        if membership is None or not request.user.is_active:
            return False
        if request.method in SAFE_METHODS or can_write(request.user):
            return True
        # Instances live for one request, so the message can say which rule refused it.
        self.message = _("Your role can only read: writing needs the admin or legal role.")
        return False


class IsAgencyAdminOrReadOnly(IsAgencyMember):
    """The roster (artists, groups) is read by every member and changed by agency admins only."""

    def has_permission(self, request: Any, view: Any) -> bool:
        if not super().has_permission(request, view):
            return False
        if request.method in SAFE_METHODS or is_agency_admin(request.user):
            return True
        self.message = _("Only agency admins can change the roster.")
        return False
