"""Reads of reference media, scoped to the user's agency."""

from __future__ import annotations

from django.db.models import QuerySet

from cases.kernel.tenancy import AnyUser, scoped
from cases.matching.models import ReferenceMedia


def reference_media_list_for(user: AnyUser) -> QuerySet[ReferenceMedia]:
    """The agency's reference media (official works per artist), newest first."""
    return scoped(
        ReferenceMedia.objects.select_related("artist", "evidence", "created_by"), user
    ).order_by("-created_at", "-id")
