"""Reads, always scoped to the user's agency. Views and the API never query models directly
for agency data: they come here, so an outsider's query simply finds nothing."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import Http404

from cases.models import (
    Agency,
    Artist,
    AuditEvent,
    Case,
    Finding,
    Group,
    ImportJob,
    Membership,
    Platform,
    RemovalSignature,
    Role,
)
from cases.models.evidence import Capture, CustodyEvent, Evidence
from cases.models.reference import ReferenceMedia

AnyUser = AbstractBaseUser | AnonymousUser


def membership_for(user: AnyUser) -> Membership | None:
    """The user's membership, cached on the user object for the request."""
    if not user.is_authenticated:
        return None
    cached = getattr(user, "_membership_cache", False)
    if cached is not False:
        return cached
    membership = Membership.objects.select_related("agency").filter(user=user).first()
    user._membership_cache = membership  # type: ignore[union-attr]
    return membership


def agency_for(user: AnyUser) -> Agency | None:
    membership = membership_for(user)
    return membership.agency if membership and user.is_active else None


def can_write(user: AnyUser) -> bool:
    membership = membership_for(user)
    return bool(membership and membership.can_write)


def is_agency_admin(user: AnyUser) -> bool:
    membership = membership_for(user)
    return bool(membership and membership.role == Role.ADMIN)


def can_see_legal_names(user: AnyUser) -> bool:
    membership = membership_for(user)
    return bool(membership and membership.role in (Role.ADMIN, Role.LEGAL))


def _scoped(queryset: QuerySet[Any], user: AnyUser, field: str = "agency") -> QuerySet[Any]:
    agency = agency_for(user)
    if agency is None:
        return queryset.none()
    return queryset.filter(**{field: agency})


def get_or_404(queryset: QuerySet[Any], **lookup: Any) -> Any:
    obj = queryset.filter(**lookup).first()
    if obj is None:
        raise Http404
    return obj


def finding_list_for(user: AnyUser) -> QuerySet[Finding]:
    artists = Prefetch("artists", queryset=Artist.objects.only("id", "stage_name", "name_hangul"))
    return (
        _scoped(Finding.objects.all(), user)
        .select_related("platform", "assignee")
        .prefetch_related(artists)
        .defer("notes", "url")
    )


def finding_get_for(user: AnyUser, pk: Any) -> Finding:
    return get_or_404(
        _scoped(Finding.objects.select_related("platform", "assignee", "agency"), user), pk=pk
    )


def artist_list_for(user: AnyUser) -> QuerySet[Artist]:
    return _scoped(Artist.objects.prefetch_related("groups"), user)


def artist_get_for(user: AnyUser, pk: Any) -> Artist:
    return get_or_404(artist_list_for(user), pk=pk)


def group_list_for(user: AnyUser) -> QuerySet[Group]:
    return _scoped(Group.objects.annotate(artist_count=Count("artists")), user)


def group_get_for(user: AnyUser, pk: Any) -> Group:
    return get_or_404(_scoped(Group.objects.all(), user), pk=pk)


def platform_list_for(user: AnyUser) -> QuerySet[Platform]:
    return _scoped(Platform.objects.all(), user)


def removal_signature_list_for(user: AnyUser) -> QuerySet[RemovalSignature]:
    return _scoped(RemovalSignature.objects.all(), user)


def case_list_for(user: AnyUser) -> QuerySet[Case]:
    return _scoped(Case.objects.prefetch_related("artists"), user).annotate(
        finding_count=Count("findings", distinct=True)
    )


def case_get_for(user: AnyUser, pk: Any) -> Case:
    return get_or_404(_scoped(Case.objects.select_related("agency", "created_by"), user), pk=pk)


def membership_list_for(user: AnyUser) -> QuerySet[Membership]:
    return _scoped(Membership.objects.select_related("user"), user)


def import_job_get_for(user: AnyUser, pk: Any) -> ImportJob:
    return get_or_404(_scoped(ImportJob.objects.defer("payload"), user), pk=pk)


def import_job_list_for(user: AnyUser) -> QuerySet[ImportJob]:
    return _scoped(ImportJob.objects.defer("payload", "report"), user)


def audit_events_for_object(user: AnyUser, obj: Any) -> QuerySet[AuditEvent]:
    return _scoped(AuditEvent.objects.select_related("actor"), user).filter(
        object_type=obj._meta.model_name, object_id=str(obj.pk)
    )


def case_timeline_for(user: AnyUser, case: Case) -> QuerySet[AuditEvent]:
    """The case's own events plus those of its findings, oldest first."""
    finding_ids = [str(pk) for pk in case.findings.values_list("pk", flat=True)]
    return (
        _scoped(AuditEvent.objects.all(), user)
        .filter(
            Q(object_type="case", object_id=str(case.pk))
            | Q(object_type="finding", object_id__in=finding_ids)
        )
        .order_by("seq")
    )


def finding_counts_for(user: AnyUser) -> dict[str, Any]:
    """Dashboard figures: findings by status, by artist and by platform (three GROUP BYs)."""
    findings = _scoped(Finding.objects.all(), user)
    by_status = dict(findings.values_list("status").annotate(n=Count("id")).order_by())
    by_platform = list(
        findings.values("platform__name").annotate(n=Count("id")).order_by("-n")[:10]
    )
    by_artist = list(
        _scoped(Artist.objects.all(), user)
        .annotate(n=Count("findings"))
        .filter(n__gt=0)
        .order_by("-n")
        .values("stage_name", "name_hangul", "n")[:10]
    )
    return {
        "by_status": by_status,
        "by_platform": by_platform,
        "by_artist": by_artist,
        "total": sum(by_status.values()),
    }


def audit_event_list_for(user: AnyUser) -> QuerySet[AuditEvent]:
    """The agency's audit trail, newest first (the audit page; admins only at the view)."""
    return _scoped(AuditEvent.objects.select_related("actor"), user).order_by("-seq")


def fan_report_agency_get(slug: str) -> Agency:
    """The agency behind a public fan report page; 404 when unknown or not accepting reports."""
    return get_or_404(Agency.objects.all(), slug=slug, fan_reports_enabled=True)


def fan_report_artists(agency: Agency) -> QuerySet[Artist]:
    """Artists a fan may pick: active ones, loading only public names (never the legal name)."""
    return Artist.objects.filter(agency=agency, active=True).only("id", "stage_name", "name_hangul")


def evidence_list_for(user: AnyUser) -> QuerySet[Evidence]:
    """The agency's evidence items, newest first (filter by finding or capture as needed)."""
    return _scoped(Evidence.objects.select_related("capture", "uploaded_by"), user)


def evidence_get_for(user: AnyUser, pk: Any) -> Evidence:
    """One evidence item of the user's agency; 404 for anyone else's, whatever the id."""
    return get_or_404(
        _scoped(
            Evidence.objects.select_related("agency", "finding", "capture", "uploaded_by"), user
        ),
        pk=pk,
    )


def custody_events_for(user: AnyUser, evidence: Evidence) -> QuerySet[CustodyEvent]:
    """An evidence item's chain of custody, oldest first."""
    return _scoped(CustodyEvent.objects.select_related("actor"), user).filter(evidence=evidence)


def capture_get_for(user: AnyUser, pk: Any) -> Capture:
    """One capture of the user's agency; 404 for anyone else's."""
    return get_or_404(
        _scoped(Capture.objects.select_related("agency", "finding", "collector"), user), pk=pk
    )


def capture_list_for(user: AnyUser) -> QuerySet[Capture]:
    """The agency's captures, newest first (filter by finding as needed)."""
    return _scoped(Capture.objects.select_related("collector"), user).order_by("-created_at", "-id")


def reference_media_list_for(user: AnyUser) -> QuerySet[ReferenceMedia]:
    """The agency's reference media (official works per artist), newest first."""
    return _scoped(
        ReferenceMedia.objects.select_related("artist", "evidence", "created_by"), user
    ).order_by("-created_at", "-id")


def notice_list_for(user: AnyUser) -> QuerySet[Any]:
    """The agency's takedown notices, newest first."""
    from cases.models import Notice

    return _scoped(
        Notice.objects.select_related("platform", "signer", "assignee", "created_by"), user
    ).order_by("-created_at", "-id")


def notice_get_for(user: AnyUser, pk: Any) -> Any:
    """One notice of the user's agency; 404 for anyone else's."""
    return get_or_404(notice_list_for(user).select_related("agency"), pk=pk)


def signer_profile_list_for(user: AnyUser) -> QuerySet[Any]:
    from cases.models import SignerProfile

    return _scoped(SignerProfile.objects.select_related("user"), user)


def webhook_list_for(user: AnyUser) -> QuerySet[Any]:
    from cases.models import Webhook

    return _scoped(Webhook.objects.all(), user)


def webhook_deliveries_for(user: AnyUser) -> QuerySet[Any]:
    from cases.models import WebhookDelivery

    return _scoped(WebhookDelivery.objects.select_related("webhook"), user)
