"""Reads for the triage queue at a million findings: rows prepared once per page (no per-row
`{% url %}`, translation or naturaltime in the template), the latest notice of each shown
finding in one query, and a total that never counts the whole table."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connections
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils.translation import gettext as _

from cases.intake.models import Finding, FindingSource, FindingStatus, SavedView
from cases.kernel.tenancy import AnyUser, agency_for, scoped
from cases.kernel.times import when

# Below this many matching findings the queue shows the exact total (a COUNT capped at
# EXACT_LIMIT + 1 rows, so it never reads more); above it, the planner's estimate.
EXACT_LIMIT = 1_000


@dataclass(frozen=True)
class TriageRow:
    """One finding as the queue shows it, every label already translated and formatted."""

    finding: Finding
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


def _short(value: datetime | None) -> str:
    return when(value)


def _latest_notices(ids: list[int]) -> dict[int, tuple[str, datetime | None]]:
    """The newest notice of each finding: status and due time, one query for the page.
    Notices belong to a higher context; the link table is reached through the relation's
    name so intake never imports them."""
    if not ids:
        return {}
    through = Finding.notices.through
    rows = (
        through.objects.filter(finding_id__in=ids)
        .order_by("finding_id", "-notice__created_at", "-notice_id")
        .values_list("finding_id", "notice__status", "notice__due_at")
    )
    latest: dict[int, tuple[str, datetime | None]] = {}
    for finding_id, status, due_at in rows:
        latest.setdefault(finding_id, (status, due_at))
    return latest


def _notice_status_labels() -> dict[str, str]:
    notice: Any = Finding.notices.through._meta.get_field("notice").related_model
    status = notice._meta.get_field("status")
    return {str(value): str(label) for value, label in status.choices}


def triage_rows(findings: list[Finding]) -> list[TriageRow]:
    """Prepare a page of findings for the template: the detail URL from one reversed prefix,
    labels translated once per page, times formatted in Python."""
    prefix = reverse("finding_detail", args=[0])[: -len("0/")]
    statuses = {str(value): str(label) for value, label in FindingStatus.choices}
    sources = {str(value): str(label) for value, label in FindingSource.choices}
    notice_labels = _notice_status_labels()
    select = _("Select finding %(id)s")
    notices = _latest_notices([f.pk for f in findings])
    rows = []
    for finding in findings:
        notice_status, notice_due = notices.get(finding.pk, ("", None))
        rows.append(
            TriageRow(
                finding=finding,
                url=f"{prefix}{finding.pk}/",
                select_label=select % {"id": finding.pk},
                status_label=statuses.get(finding.status, finding.status),
                source_label=sources.get(finding.source, finding.source),
                recorded=_short(finding.created_at),
                recorded_iso=finding.created_at.isoformat(),
                artists=[artist.stage_name for artist in finding.artists.all()],
                notice_status=notice_labels.get(notice_status, notice_status),
                notice_status_value=notice_status,
                notice_due=_short(notice_due),
            )
        )
    return rows


def _planner_estimate(queryset: QuerySet[Any]) -> int | None:
    """PostgreSQL's estimate of the rows a query returns (EXPLAIN, nothing is read)."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def finding_total(queryset: QuerySet[Finding]) -> Total:
    """The number of findings a filtered queue matches, without counting the whole table:
    above EXACT_LIMIT (by the planner's estimate on PostgreSQL, by a capped count elsewhere)
    it is an estimate, shown as "about N" (on SQLite, "more than EXACT_LIMIT")."""
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
