"""Reads of findings, import jobs and the public fan report page, scoped to the user's
agency."""

from __future__ import annotations

from typing import TypedDict, cast

from django.db.models import Count, Prefetch, QuerySet

from cases.agency.models import Artist
from cases.intake.counts import finding_counts_cached
from cases.intake.models import Finding, ImportJob
from cases.kernel.models import Agency
from cases.kernel.tenancy import AnyUser, agency_for, get_or_404, scoped


def finding_list_for(user: AnyUser) -> QuerySet[Finding]:
    artists = Prefetch("artists", queryset=Artist.objects.only("id", "stage_name", "name_hangul"))
    return (
        scoped(Finding.objects.all(), user)
        .select_related("platform", "assignee")
        .prefetch_related(artists)
        .defer("notes", "url")
    )


def finding_get_for(user: AnyUser, pk: int | str) -> Finding:
    return get_or_404(
        scoped(Finding.objects.select_related("platform", "assignee", "agency"), user), pk=pk
    )


def import_job_get_for(user: AnyUser, pk: int | str) -> ImportJob:
    return get_or_404(scoped(ImportJob.objects.defer("payload"), user), pk=pk)


def import_job_list_for(user: AnyUser) -> QuerySet[ImportJob]:
    return scoped(ImportJob.objects.defer("payload"), user)


class PlatformCount(TypedDict):
    platform__name: str | None
    n: int


class ArtistCount(TypedDict):
    stage_name: str
    name_hangul: str
    n: int


class FindingCounts(TypedDict):
    by_status: dict[str, int]
    by_platform: list[PlatformCount]
    by_artist: list[ArtistCount]
    total: int


def finding_counts_for(user: AnyUser) -> FindingCounts:
    """Dashboard figures: findings by status, by artist and by platform, from the per-agency
    cache (cases/intake/counts.py); the three GROUP BYs run only after a change."""
    agency = agency_for(user)
    if agency is None:
        return {"by_status": {}, "by_platform": [], "by_artist": [], "total": 0}
    return finding_counts_cached(
        agency.pk, agency.created_at.timestamp(), lambda: _finding_counts_compute(user)
    )


def _finding_counts_compute(user: AnyUser) -> FindingCounts:
    findings = scoped(Finding.objects.all(), user)
    by_status = dict(findings.values_list("status").annotate(n=Count("id")).order_by())
    by_platform = cast(
        "list[PlatformCount]",
        list(findings.values("platform__name").annotate(n=Count("id")).order_by("-n")[:10]),
    )
    by_artist = cast(
        "list[ArtistCount]",
        list(
            scoped(Artist.objects.all(), user)
            .annotate(n=Count("findings"))
            .filter(n__gt=0)
            .order_by("-n")
            .values("stage_name", "name_hangul", "n")[:10]
        ),
    )
    return {
        "by_status": by_status,
        "by_platform": by_platform,
        "by_artist": by_artist,
        "total": sum(by_status.values()),
    }


def fan_report_agency_get(slug: str) -> Agency:
    """The agency behind a public fan report page; 404 when unknown or not accepting reports."""
    return get_or_404(Agency.objects.all(), slug=slug, fan_reports_enabled=True)


def fan_report_artists(agency: Agency) -> QuerySet[Artist]:
    """Artists a fan may pick: active ones, loading only public names (never the legal name)."""
    return Artist.objects.filter(agency=agency, active=True).only("id", "stage_name", "name_hangul")
