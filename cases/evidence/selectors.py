"""Reads of evidence, custody, captures and removal signatures, always scoped to the
user's agency: another agency's id is a 404."""

from __future__ import annotations

from django.db.models import QuerySet

from cases.evidence.models import Capture, CustodyEvent, Evidence, RemovalSignature
from cases.kernel.tenancy import AnyUser, get_or_404, scoped


def removal_signature_list_for(user: AnyUser) -> QuerySet[RemovalSignature]:
    return scoped(RemovalSignature.objects.all(), user)


def evidence_list_for(user: AnyUser) -> QuerySet[Evidence]:
    """The agency's evidence items, newest first (filter by finding or capture as needed)."""
    return scoped(Evidence.objects.select_related("capture", "uploaded_by"), user)


def evidence_get_for(user: AnyUser, pk: int | str) -> Evidence:
    """One evidence item of the user's agency; 404 for anyone else's, whatever the id."""
    return get_or_404(
        scoped(
            Evidence.objects.select_related("agency", "finding", "capture", "uploaded_by"), user
        ),
        pk=pk,
    )


def custody_events_for(user: AnyUser, evidence: Evidence) -> QuerySet[CustodyEvent]:
    """An evidence item's chain of custody, oldest first."""
    return scoped(CustodyEvent.objects.select_related("actor"), user).filter(evidence=evidence)


def capture_get_for(user: AnyUser, pk: int | str) -> Capture:
    """One capture of the user's agency; 404 for anyone else's."""
    return get_or_404(
        scoped(Capture.objects.select_related("agency", "finding", "collector"), user), pk=pk
    )


def capture_list_for(user: AnyUser) -> QuerySet[Capture]:
    """The agency's captures, newest first (filter by finding as needed)."""
    return scoped(Capture.objects.select_related("collector"), user).order_by("-created_at", "-id")
