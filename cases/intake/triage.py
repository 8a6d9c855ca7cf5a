"""Reads for the triage queue at a million findings: rows prepared once per page (no per-row
`{% url %}`, translation or naturaltime in the template), the newest notice of each shown
finding read from its own row (kept there by database triggers: cases/notices/latest_sql.py),
and a total that never counts the whole table."""

from __future__ import annotations

import hashlib
import html
import json
import logging
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import connections
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from cases.intake.models import Finding, FindingSource, FindingStatus, SavedView
from cases.kernel.per_language import choice_pairs, per_language
from cases.kernel.tenancy import AnyUser, agency_for, scoped
from cases.kernel.times import when_many
from cases.kernel.web import PAGE_SIZE, Page, page_number

# Below this many matching findings the queue shows the exact total (a COUNT capped at
# EXACT_LIMIT + 1 rows, so it never reads more); above it, the planner's estimate.
EXACT_LIMIT = 1_000
# From this offset on, a page first picks its ids from the ordering index alone and then
# reads those rows with their platform and assignee (an OFFSET over the joined rows would
# join every skipped row too).
DEEP_OFFSET = 1_000
# How long the planner's estimate of a filtered queue is reused (seconds).
ESTIMATE_TTL = 300

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TriageRow:
    """One finding as the queue shows it, every label already translated and formatted."""

    pk: int
    canonical_url: str
    platform: str  # the platform's name, else the host
    status: str
    assignee: str  # the assignee's user name, "" when unassigned
    url: str
    select_label: str
    status_label: str
    source_label: str
    recorded: str
    recorded_iso: str
    artists: list[str]
    notice_status: str
    notice_status_value: str
    notice_due: str


@dataclass(frozen=True)
class Total:
    """How many findings match: exact, the planner's estimate (`about`), or at least
    `count` (`over`, where no estimate is available: SQLite)."""

    count: int
    about: bool = False
    over: bool = False


@dataclass(frozen=True)
class _Labels:
    """A page's translated labels, the same on every request in a language."""

    statuses: dict[str, str]
    sources: dict[str, str]
    notices: dict[str, str]
    select: str


@per_language
def status_choices() -> tuple[tuple[str, str], ...]:
    """The finding statuses as (value, label) in the active language."""
    return choice_pairs(FindingStatus.choices)


@per_language
def source_choices() -> tuple[tuple[str, str], ...]:
    """The finding sources as (value, label) in the active language."""
    return choice_pairs(FindingSource.choices)


@per_language
def _labels() -> _Labels:
    notice: Any = Finding.notices.through._meta.get_field("notice").related_model
    return _Labels(
        statuses=dict(status_choices()),
        sources=dict(source_choices()),
        notices=dict(choice_pairs(notice._meta.get_field("status").choices)),
        select=_("Select finding %(id)s"),
    )


def triage_rows(findings: list[dict[str, Any]]) -> list[TriageRow]:
    """Prepare a page of findings (plain rows of selectors.finding_list_rows_for with
    `triage`, named by list_names.list_rows_named: no model per row) for the template: the detail URL from one reversed
    prefix, labels translated once per page, times formatted in Python."""
    prefix = reverse("finding_detail", args=[0])[: -len("0/")]
    labels = _labels()
    statuses, sources, notice_labels, select = (
        labels.statuses,
        labels.sources,
        labels.notices,
        labels.select,
    )
    _short = when_many()
    rows = []
    for finding in findings:
        pk, status, created_at = finding["id"], finding["status"], finding["created_at"]
        notice_status = finding["latest_notice_status"] or ""
        notice_due = finding["latest_notice_due"]
        rows.append(
            TriageRow(
                pk=pk,
                canonical_url=finding["canonical_url"],
                platform=finding["platform_name"] or finding["host"],
                status=status,
                assignee=finding["assignee_username"],
                url=f"{prefix}{pk}/",
                select_label=select % {"id": pk},
                status_label=statuses.get(status, status),
                source_label=sources.get(finding["source"], finding["source"]),
                recorded=_short(created_at),
                recorded_iso=created_at.isoformat(),
                artists=[a["stage_name"] for a in finding["artists"]],
                notice_status=notice_labels.get(notice_status, notice_status),
                notice_status_value=notice_status,
                notice_due=_short(notice_due),
            )
        )
    return rows


_DASH = '<span class="muted">—</span>'


def _e(value: object) -> str:
    return html.escape(str(value))


_ROW = (
    '<tr data-finding-id="{pk}" data-href="{url}" data-preview="{url}preview/">{check}<td class="num mono">{pk}</td>'
    '<td class="url-cell"><a href="{url}" class="url-text" data-open>{canonical}</a></td>'
    "<td>{platform}</td><td>{artists}</td>"
    '<td><span class="badge status-{status}">{status_label}</span></td>'
    '<td>{notice}</td><td class="nowrap" data-notice-due>{due}</td><td>{source}</td>'
    '<td>{assignee}</td><td class="nowrap"><time datetime="{iso}">{recorded}</time></td></tr>\n'
)


def triage_rows_html(rows: list[TriageRow], *, can_write: bool) -> SafeString:
    """The table body of the queue: one str.format per row instead of some twenty template
    lookups and filters per row (the loop was most of the page's rendering time). Every
    value from the database or a translation goes through html.escape (what Django's escape
    does, without its lazy-string wrapper); a value that repeats down the page (a label, a
    platform, an artist, an assignee) is escaped once per page; ids are ints."""
    seen: dict[str, str] = {}

    def once(value: str) -> str:
        escaped = seen.get(value)
        if escaped is None:
            escaped = seen[value] = html.escape(value)
        return escaped

    parts = []
    for row in rows:
        check = (
            f'<td class="check"><input type="checkbox" name="ids" value="{int(row.pk)}" '
            f'aria-label="{_e(row.select_label)}"></td>'
            if can_write
            else ""
        )
        notice = (
            f'<span class="badge status-{once(row.notice_status_value)}" data-notice-status>'
            f"{once(row.notice_status)}</span>"
            if row.notice_status
            else _DASH
        )
        parts.append(
            _ROW.format(
                pk=int(row.pk),
                url=_e(row.url),
                check=check,
                canonical=_e(row.canonical_url),
                platform=once(row.platform),
                artists="".join(f'<span class="tag">{once(n)}</span>' for n in row.artists)
                or _DASH,
                status=once(row.status),
                status_label=once(row.status_label),
                notice=notice,
                due=once(row.notice_due or "—"),
                source=once(row.source_label),
                assignee=once(row.assignee) if row.assignee else _DASH,
                iso=_e(row.recorded_iso),
                recorded=_e(row.recorded),
            )
        )
    return mark_safe("".join(parts))  # every inserted value was escaped above


def _planner_estimate(queryset: QuerySet[Any]) -> int | None:
    """PostgreSQL's estimate of the rows a query returns (EXPLAIN, nothing is read), cached
    for ESTIMATE_TTL under the query's own SQL and parameters (the agency's id among them):
    the planner's figure only moves when ANALYZE refreshes its statistics."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    key = "triage_estimate:" + hashlib.sha256(f"{sql}\0{params!r}".encode()).hexdigest()
    try:
        cached = cache.get(key)
    except Exception as exc:  # the cache is down: ask the planner, never fail the page
        log.warning("planner estimate read without the cache (%s)", exc)
        cached = None
    if cached is not None:
        return int(cached)
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    estimate = int(plan[0]["Plan"]["Plan Rows"])
    try:
        cache.set(key, estimate, timeout=ESTIMATE_TTL)
    except Exception as exc:
        log.warning("planner estimate not cached (%s)", exc)
    return estimate


def finding_page(request: HttpRequest, findings: QuerySet[Finding]) -> Page:
    """The requested page of an ordered queue, one row more than shown (is there a next
    page?); deep pages skip their offset on ids only."""
    number = page_number(request)
    offset = (number - 1) * PAGE_SIZE
    if offset >= DEEP_OFFSET:
        ids = findings.values("pk")[offset : offset + PAGE_SIZE + 1]
        items = list(findings.filter(pk__in=ids)[: PAGE_SIZE + 1])
    else:
        items = list(findings[offset : offset + PAGE_SIZE + 1])
    return Page(items=items[:PAGE_SIZE], number=number, has_next=len(items) > PAGE_SIZE)


def finding_total(queryset: QuerySet[Finding], page: Page | None = None) -> Total:
    """The number of findings a filtered queue matches, without counting the whole table:
    above EXACT_LIMIT (by the planner's estimate on PostgreSQL, by a capped count elsewhere)
    it is an estimate, shown as "about N" (on SQLite, "more than EXACT_LIMIT"). A page that
    has rows and no next page already tells the exact total, with no query."""
    if page is not None and page.items and not page.has_next:
        return Total(count=(page.number - 1) * PAGE_SIZE + len(page.items))
    estimate = _planner_estimate(queryset)
    if estimate is not None and estimate > EXACT_LIMIT:
        return Total(count=estimate, about=True)
    capped = queryset.order_by().values("pk")[: EXACT_LIMIT + 1].count()
    if capped <= EXACT_LIMIT:
        return Total(count=capped, about=False)
    if estimate is not None:
        return Total(count=max(estimate, capped), about=True)
    return Total(count=EXACT_LIMIT, over=True)


def saved_view_list_for(user: AnyUser) -> QuerySet[SavedView]:
    """The user's own saved views and those shared in the agency."""
    if agency_for(user) is None:
        return SavedView.objects.none()
    return scoped(SavedView.objects.all(), user).filter(Q(owner=user) | Q(shared=True))
