from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from cases.kernel.tenancy import membership_for


def membership(request: HttpRequest) -> dict[str, Any]:
    member = membership_for(request.user) if hasattr(request, "user") else None
    return {
        "membership": member,
        "agency": member.agency if member else None,
        "can_write": bool(member and member.can_write),
        "is_agency_admin": bool(member and member.is_admin),
    }
