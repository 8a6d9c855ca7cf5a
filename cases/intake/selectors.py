"""Reads of findings, import jobs and the public fan report page, scoped to the user's
agency."""

from __future__ import annotations

import json
from typing import Any, TypedDict, cast

from django.db.models import Aggregate, OuterRef, Prefetch, QuerySet, Subquery, TextField
from django.db.models.functions import JSONObject

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


class _JSONArrayText(Aggregate):
    """The grouped values as a JSON array in text: JSON_AGG on PostgreSQL, JSON_GROUP_ARRAY
    on SQLite."""

    function = "JSON_GROUP_ARRAY"
    output_field = TextField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, Any]:
        sql, params = self.as_sql(compiler, connection, function="JSON_AGG", **extra)
        return f"({sql})::text", params


def finding_list_with_artists_for(user: AnyUser) -> QuerySet[Finding]:
    """finding_list_for with each finding's artists read in the page query itself (a JSON
    array from a correlated subquery, `artists_json`) instead of a prefetch query of its
    own: lists of findings that show artists by name (the triage queue, the API list).
    Read them with `finding_artists`."""
    links = (
        Finding.artists.through.objects.filter(finding_id=OuterRef("pk"))  # type: ignore[misc]
        .values("finding_id")
        .annotate(
            names=_JSONArrayText(
                JSONObject(
                    id="artist_id",
                    stage_name="artist__stage_name",
                    name_hangul="artist__name_hangul",
                )
            )
        )
        .values("names")
    )
    return (
        finding_list_for(user)
        .prefetch_related(None)
        .only(*LIST_FIELDS)
        .annotate(artists_json=Subquery(links))
    )


# What the lists show (the triage rows, the API's FindingSerializer): a page reads and builds
# these columns only, the platform's name and the assignee's username without the rest of
# their rows (query budget tests catch a field read past them).
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
    "platform__id",
    "platform__name",
    "assignee__id",
    "assignee__username",
)


def finding_list_rows_for(user: AnyUser) -> QuerySet[Finding, dict[str, Any]]:
    """finding_list_with_artists_for as plain rows (dicts of LIST_FIELDS and artists_json):
    the API's list page, which serialises them without building a model per row."""
    rows = finding_list_with_artists_for(user).values(*LIST_FIELDS, "artists_json")
    return cast("QuerySet[Finding, dict[str, Any]]", rows)


def artists_from_json(text: str | None) -> list[dict[str, Any]]:
    """The artists of `artists_json` as {id, stage_name, name_hangul}, ordered as the
    Artist model orders them (stage name)."""
    rows = json.loads(text) if text else []
    return sorted(rows, key=lambda a: (a["stage_name"], a["id"]))


def finding_artists(finding: Finding) -> list[dict[str, Any]]:
    """A finding's artists as {id, stage_name, name_hangul}, ordered as the Artist model
    orders them (stage name): from `artists_json` when the list read them, else from the
    (prefetched) relation."""
    if hasattr(finding, "artists_json"):
        return artists_from_json(finding.artists_json)
    return [
        {"id": a.pk, "stage_name": a.stage_name, "name_hangul": a.name_hangul}
        for a in finding.artists.all()
    ]


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
