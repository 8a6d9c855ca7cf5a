"""Statistics: the dashboard with server-rendered SVG charts, a CSV of every table, and
the yearly transparency report (page and CSV)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Any

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from cases.intake.models import FindingStatus
from cases.kernel.times import csv_zone_header
from cases.kernel.web import HtmxHttpRequest, member_required
from cases.stats import selectors as stats
from cases.stats.charts import bar_chart, weekly_chart

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _hours(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def _durations(rows: list[stats.DurationRow]) -> list[list[Any]]:
    return [[r.label, r.count, _hours(r.median_h), _hours(r.p90_h)] for r in rows]


def _tables(user: Any) -> dict[str, Callable[[], tuple[list[str], list[list[Any]]]]]:
    """Every table of the dashboard as (header, rows), computed only when asked for."""

    def weekly() -> tuple[list[str], list[list[Any]]]:
        data = stats.findings_weekly(user)
        # Weeks start on Monday in the agency's zone, which the header names.
        return [csv_zone_header(_("week")), *data.statuses], [
            [week.isoformat(), *counts] for week, *counts in data.rows()
        ]

    def reappearance() -> tuple[list[str], list[list[Any]]]:
        data = stats.reappearance(user)
        rate = "" if data.rate is None else f"{data.rate:.4f}"
        return [_("removed (ever)"), _("reappeared"), _("rate")], [
            [data.removed_ever, data.reappeared, rate]
        ]

    def notice_counts() -> tuple[list[str], list[list[Any]]]:
        data = stats.notice_counts(user)
        return [_("sent"), _("awaiting submission"), _("drafts")], [
            [data.sent, data.awaiting_submission, data.drafts]
        ]

    duration_header = [_("group"), _("count"), _("median hours"), _("p90 hours")]
    return {
        "observations": lambda: (
            [_("latest observation"), _("findings")],
            [[value, n] for value, _label, n in stats.latest_observations(user)],
        ),
        "weekly": weekly,
        "removal_platform": lambda: (
            duration_header,
            _durations(stats.removal_times_by_platform(user)),
        ),
        "removal_basis": lambda: (duration_header, _durations(stats.removal_times_by_basis(user))),
        "platform_response": lambda: (
            duration_header,
            _durations(stats.platform_response_times(user)),
        ),
        "outcomes": lambda: (
            [_("status"), _("count")],
            [[value, n] for value, _label, n in stats.notice_outcomes(user)],
        ),
        "notice_counts": notice_counts,
        "reappearance": reappearance,
        "artists": lambda: (
            [_("artist"), _("Hangul"), _("findings"), _("online"), _("removed"), _("reappeared")],
            [
                [
                    r["stage_name"],
                    r["name_hangul"],
                    r["total"],
                    r["live"],
                    r["removed"],
                    r["reappeared"],
                ]
                for r in stats.artist_exposure(user)
            ],
        ),
    }


def _csv(name: str, header: list[str], rows: list[list[Any]]) -> HttpResponse:
    buffer = io.StringIO()
    # A BOM so spreadsheet programs read Korean text as UTF-8.
    buffer.write("\ufeff")
    writer = csv.writer(buffer)
    writer.writerow(header)
    for row in rows:
        writer.writerow(
            ["'" + v if isinstance(v, str) and v.startswith(FORMULA_PREFIXES) else v for v in row]
        )
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response


@require_GET
@member_required()
def stats_dashboard(request: HtmxHttpRequest) -> HttpResponse:
    user = request.user
    weekly = stats.findings_weekly(user)
    labels = {s.value: str(s.label) for s in FindingStatus}
    by_platform = stats.removal_times_by_platform(user)
    by_basis = stats.removal_times_by_basis(user)
    outcomes = stats.notice_outcomes(user)
    artists = stats.artist_exposure(user)
    context = {
        "weekly": weekly,
        "weekly_rows": weekly.rows(),
        "weekly_chart": weekly_chart(
            weekly.weeks,
            weekly.statuses,
            weekly.counts,
            labels=labels,
            title=_("Findings by status, per week"),
        ),
        "status_labels": [labels[s] for s in weekly.statuses],
        "by_platform": by_platform,
        "by_platform_chart": bar_chart(
            [(r.label, r.median_h or 0) for r in by_platform],
            title=_("Median hours from discovery to removal, per platform"),
            unit=_("h"),
        ),
        "by_basis": by_basis,
        "by_basis_chart": bar_chart(
            [(r.label, r.median_h or 0) for r in by_basis],
            title=_("Median hours from discovery to removal, per legal basis"),
            unit=_("h"),
        ),
        "response": stats.platform_response_times(user),
        "outcomes": outcomes,
        "notice_counts": stats.notice_counts(user),
        "outcomes_chart": bar_chart(
            [(label, n) for _v, label, n in outcomes], title=_("Notices by outcome")
        ),
        "reappearance": stats.reappearance(user),
        "observations": stats.latest_observations(user),
        "artists": artists,
        "artists_chart": bar_chart(
            [(r["stage_name"], r["live"]) for r in artists[:15]],
            title=_("Findings still online, per artist"),
        ),
    }
    return render(request, "cases/stats_dashboard.html", context)


@require_GET
@member_required()
def stats_export(request: HtmxHttpRequest) -> HttpResponse:
    name = request.GET.get("table", "weekly")
    tables = _tables(request.user)
    if name not in tables:
        raise Http404
    header, rows = tables[name]()
    return _csv(f"agencyguard-{name}", header, rows)


def _year(request: HtmxHttpRequest) -> int:
    try:
        year = int(request.GET.get("year", ""))
    except ValueError:
        year = timezone.localtime().year
    return min(max(year, 2000), 2100)


@require_GET
@member_required()
def stats_transparency(request: HtmxHttpRequest) -> HttpResponse:
    year = _year(request)
    rows = stats.transparency_report(request.user, year)
    context = {
        "year": year,
        "years": stats.years_with_notices(request.user),
        "rows": rows,
        "total": sum(r.notices for r in rows),
    }
    return render(request, "cases/stats_transparency.html", context)


@require_GET
@member_required()
def stats_transparency_csv(request: HtmxHttpRequest) -> HttpResponse:
    year = _year(request)
    rows = stats.transparency_report(request.user, year)
    header = [
        _("provider"),
        _("type of content"),
        _("action taken"),
        _("notices"),
        _("median hours to decision"),
    ]
    return _csv(
        f"transparency-{year}",
        header,
        [[r.provider, r.content_type, r.action, r.notices, _hours(r.median_h)] for r in rows],
    )
