from __future__ import annotations

from typing import Any

from rest_framework.permissions import SAFE_METHODS, BasePermission

from cases.selectors import can_write, membership_for


class IsAgencyMember(BasePermission):
    """Authenticated members of an agency; viewers may only read."""

    def has_permission(self, request: Any, view: Any) -> bool:
        membership = membership_for(request.user)
        if membership is None or not request.user.is_active:
            return False
        return request.method in SAFE_METHODS or can_write(request.user)
