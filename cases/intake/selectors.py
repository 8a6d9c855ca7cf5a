"""Reads of findings, import jobs and the public fan report page, scoped to the user's
agency."""

from __future__ import annotations

from typing import TypedDict

from django.db.models import Prefetch, QuerySet

from cases.agency.models import Artist, Platform
from cases.intake.models import Finding, FindingCount, FindingCountDimension, ImportJob
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


def finding_recent_for(user: AnyUser, limit: int) -> QuerySet[Finding]:
    """The agency's latest findings with only what the dashboard's list shows (no joins, no
    artists)."""
    fields = ("id", "canonical_url", "status", "created_at")
    return scoped(Finding.objects.only(*fields), user).order_by("-created_at", "-id")[:limit]


def finding_get_for(user: AnyUser, pk: int | str) -> Finding:
    return get_or_404(
        scoped(Finding.objects.select_related("platform", "assignee", "agency"), user), pk=pk
    )


def import_job_get_for(user: AnyUser, pk: int | str) -> ImportJob:
    return get_or_404(scoped(ImportJob.objects.defer("payload"), user), pk=pk)


def import_job_list_for(user: AnyUser) -> QuerySet[ImportJob]:
    return scoped(ImportJob.objects.defer("payload"), user)


TOP = 10  # platforms and artists shown on the dashboard


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
    """Dashboard figures: findings by status, by platform and by artist (the ten largest of
    each), read from the agency's counters (a few dozen rows, kept by database triggers in
    the transaction of every change: cases/intake/counter_sql.py), never by counting the
    findings."""
    agency = agency_for(user)
    if agency is None:
        return {"by_status": {}, "by_platform": [], "by_artist": [], "total": 0}
    rows = FindingCount.objects.filter(agency=agency, count__gt=0)
    by_dimension: dict[str, dict[str, int]] = {d.value: {} for d in FindingCountDimension}
    for dimension, key, n in rows.values_list("dimension", "key", "count"):
        by_dimension[dimension][key] = n
    by_status = by_dimension[FindingCountDimension.STATUS]
    return {
        "by_status": by_status,
        "by_platform": _top_platforms(agency, by_dimension[FindingCountDimension.PLATFORM]),
        "by_artist": _top_artists(agency, by_dimension[FindingCountDimension.ARTIST]),
        "total": sum(by_status.values()),
    }


def _top_platforms(agency: Agency, counts: dict[str, int]) -> list[PlatformCount]:
    ids = [int(key) for key in counts if key]
    names = dict(Platform.objects.filter(agency=agency, pk__in=ids).values_list("pk", "name"))
    by_name: dict[str | None, int] = {}
    for key, n in counts.items():
        name = names.get(int(key)) if key else None
        by_name[name] = by_name.get(name, 0) + n
    ranked = sorted(by_name.items(), key=lambda item: (-item[1], item[0] or ""))
    return [{"platform__name": name, "n": n} for name, n in ranked[:TOP]]


def _top_artists(agency: Agency, counts: dict[str, int]) -> list[ArtistCount]:
    artists = Artist.objects.filter(agency=agency, pk__in=[int(key) for key in counts])
    rows: list[ArtistCount] = [
        {"stage_name": stage, "name_hangul": hangul, "n": counts[str(pk)]}
        for pk, stage, hangul in artists.values_list("pk", "stage_name", "name_hangul")
    ]
    rows.sort(key=lambda row: (-row["n"], row["stage_name"]))
    return rows[:TOP]


def fan_report_agency_get(slug: str) -> Agency:
    """The agency behind a public fan report page; 404 when unknown or not accepting reports."""
    return get_or_404(Agency.objects.all(), slug=slug, fan_reports_enabled=True)


def fan_report_artists(agency: Agency) -> QuerySet[Artist]:
    """Artists a fan may pick: active ones, loading only public names (never the legal name)."""
    return Artist.objects.filter(agency=agency, active=True).only("id", "stage_name", "name_hangul")
