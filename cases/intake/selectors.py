"""Reads of findings, import jobs and the public fan report page, scoped to the user's
agency."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypedDict, TypeVar, cast

from django.db.models import (
    Prefetch,
    QuerySet,
)

from cases.agency.models import Artist, Platform
from cases.intake.models import Finding, FindingCount, FindingCountDimension, ImportJob
from cases.intake.monitor.models import Discovery, WatchedSource
from cases.kernel.models import Agency
from cases.kernel.tenancy import AnyUser, agency_for, get_or_404, scoped

T = TypeVar("T")


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


def _per_thread(build: Callable[[bool], T]) -> Callable[[bool], T]:
    """functools.cache, one cache per thread. Clones of a queryset share its annotations'
    expressions, and compiling a subquery briefly changes its join reference counts: threads
    (gunicorn's) must not compile the same one at the same time, so each builds its own."""
    local = threading.local()

    @functools.wraps(build)
    def cached(key: bool) -> T:
        built: dict[bool, T] = local.__dict__.setdefault("built", {})
        if key not in built:
            built[key] = build(key)
        return built[key]

    return cached


# The status and due time of each finding's newest notice: columns of the finding kept by
# database triggers (cases/notices/latest_sql.py), so the page query reads no notice table.
NOTICE_FIELDS = ("latest_notice_status", "latest_notice_due")


@_per_thread
def _list_rows(triage: bool) -> QuerySet[Finding, dict[str, Any]]:
    """The lists' rows before their agency filter, built once per thread and cloned for
    every page (building them cost about as much as running the page query); never
    evaluated themselves, only through finding_list_rows_for, which scopes them."""
    fields = TRIAGE_FIELDS if triage else LIST_FIELDS
    return cast("QuerySet[Finding, dict[str, Any]]", Finding.objects.values(*fields))


# What the lists read (the triage rows, the API's FindingSerializer): the finding's own
# columns only, no join and no subquery, so that the page query touches one table (a fresh
# database connection loads the catalogue entries of every table and index a query touches:
# each join cost more there than its rows). The artists' ids are a column kept by triggers
# (cases/intake/artist_ids_sql.py); the names of the platform, the assignee and the artists
# are added to the page's rows afterwards from cached maps (cases.intake.list_names).
# The lifecycle times a list shows (also the API's, cases.intake.api.FindingSerializer).
LIST_TIMES = (
    "created_at",
    "updated_at",
    "triaged_at",
    "captured_at",
    "notice_sent_at",
    "removed_at",
    "reappeared_at",
    "dismissed_at",
)
LIST_FIELDS = (
    "id",
    "agency_id",
    "canonical_url",
    "host",
    "status",
    "source",
    "dismissed_reason",
    *LIST_TIMES,
    "platform_id",
    "assignee_id",
    "artist_ids",
)
# The triage queue's columns: only what its rows show (every time column read is a
# datetime built per row, and the queue shows one of the eight).
TRIAGE_FIELDS = (
    "id",
    "canonical_url",
    "host",
    "status",
    "source",
    "created_at",
    "platform_id",
    "assignee_id",
    "artist_ids",
    *NOTICE_FIELDS,
)


def finding_list_rows_for(
    user: AnyUser, *, triage: bool = False
) -> QuerySet[Finding, dict[str, Any]]:
    """The agency's findings for lists (the API's list page, the triage queue) as plain rows
    without a model per row: dicts of LIST_FIELDS (the API's), or with `triage`
    TRIAGE_FIELDS (the queue's, with the status and due time of each newest notice). One single-table query per
    page; cases.intake.list_names.list_rows_named adds the names a page shows."""
    rows = scoped(cast("QuerySet[Finding]", _list_rows(triage)), user)
    return cast("QuerySet[Finding, dict[str, Any]]", rows)


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


def watched_source_list_for(user: AnyUser) -> QuerySet[WatchedSource]:
    return scoped(WatchedSource.objects.all(), user).defer("seen_keys", "validators")


def discovery_list_for(user: AnyUser) -> QuerySet[Discovery]:
    return scoped(Discovery.objects.all(), user)
