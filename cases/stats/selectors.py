"""Statistics of the dashboard, the CSV exports and the yearly transparency report.

Pure helpers first (median, percentile), then readers that take the user and only ever
look at the user's agency. Durations are reported in hours.

Percentiles use linear interpolation between closest ranks (Hyndman & Fan type 7, the
default of numpy and of spreadsheet PERCENTILE.INC): for sorted values x[0..n-1] and a
fraction p, h = (n - 1) * p and the result is x[⌊h⌋] + (h - ⌊h⌋) * (x[⌊h⌋+1] - x[⌊h⌋]).
The median is the 50th percentile (the mean of the two middle values for even n).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, TypedDict, cast

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from cases.agency.models import Artist
from cases.evidence.models import Capture, CaptureObservation
from cases.intake.models import Finding, FindingStatus
from cases.kernel.tenancy import AnyUser, agency_for
from cases.notices.models import LegalBasis, Notice, NoticeStatus

# --------------------------------------------------------------------------- pure helpers


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th fraction (0..1) of `values` by linear interpolation (type 7); None if empty."""
    if not values:
        return None
    if not 0 <= p <= 1:
        raise ValueError("p must be between 0 and 1")
    ordered = sorted(values)
    h = (len(ordered) - 1) * p
    low = math.floor(h)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (h - low) * (ordered[high] - ordered[low])


def median(values: Sequence[float]) -> float | None:
    return percentile(values, 0.5)


def hours(delta: timedelta) -> float:
    return delta.total_seconds() / 3600


def week_start(moment: datetime) -> date:
    """The Monday of the moment's week, in the site's time zone."""
    day = timezone.localtime(moment).date()
    return day - timedelta(days=day.weekday())


@dataclass(frozen=True)
class DurationRow:
    """One group's durations: how many, the median and the 90th percentile, in hours."""

    label: str
    count: int
    median_h: float | None
    p90_h: float | None


def duration_rows(groups: dict[str, list[float]]) -> list[DurationRow]:
    rows = [
        DurationRow(label, len(values), median(values), percentile(values, 0.9))
        for label, values in groups.items()
    ]
    return sorted(rows, key=lambda row: (-row.count, row.label))


# --------------------------------------------------------------------------- readers


def _findings(user: AnyUser) -> QuerySet[Finding]:
    agency = agency_for(user)
    return Finding.objects.none() if agency is None else Finding.objects.filter(agency=agency)


def _notices(user: AnyUser) -> QuerySet[Notice]:
    agency = agency_for(user)
    return Notice.objects.none() if agency is None else Notice.objects.filter(agency=agency)


STATUS_EVENTS = (
    (FindingStatus.NEW, "created_at"),
    (FindingStatus.TRIAGED, "triaged_at"),
    (FindingStatus.CAPTURED, "captured_at"),
    (FindingStatus.NOTICE_SENT, "notice_sent_at"),
    (FindingStatus.REMOVED, "removed_at"),
    (FindingStatus.REAPPEARED, "reappeared_at"),
    (FindingStatus.DISMISSED, "dismissed_at"),
)


@dataclass
class WeeklyStatus:
    """Findings entering each status per week (a finding recorded and removed in the same
    week counts once under "new" and once under "removed")."""

    weeks: list[date]
    statuses: list[str]
    counts: dict[date, Counter[str]] = field(default_factory=dict)

    def rows(self) -> list[list[Any]]:
        return [[w, *(self.counts[w][s] for s in self.statuses)] for w in self.weeks]


def findings_weekly(user: AnyUser, *, weeks: int = 12, now: datetime | None = None) -> WeeklyStatus:
    now = now or timezone.now()
    last = week_start(now)
    all_weeks = [last - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]
    start = timezone.make_aware(datetime.combine(all_weeks[0], datetime.min.time()))
    fields = [name for _status, name in STATUS_EVENTS]
    recent = Q()
    for name in fields:
        recent |= Q(**{f"{name}__gte": start})
    result = WeeklyStatus(all_weeks, [s.value for s, _n in STATUS_EVENTS])
    result.counts = {w: Counter() for w in all_weeks}
    for row in _findings(user).filter(recent).values_list(*fields).iterator(chunk_size=5000):
        for (status, _name), moment in zip(STATUS_EVENTS, row, strict=True):
            if moment is not None and moment >= start:
                week = week_start(moment)
                if week in result.counts:
                    result.counts[week][status.value] += 1
    return result


def removal_times_by_platform(user: AnyUser) -> list[DurationRow]:
    """Time from discovery (recording) to removal, per platform."""
    groups: dict[str, list[float]] = defaultdict(list)
    removed = _findings(user).filter(removed_at__isnull=False)
    for name, created, removed_at in removed.values_list(
        "platform__name", "created_at", "removed_at"
    ):
        assert removed_at is not None  # the filter above
        groups[name or str(_("(no platform)"))].append(hours(removed_at - created))
    return duration_rows(groups)


def removal_times_by_basis(user: AnyUser) -> list[DurationRow]:
    """Time from discovery to removal of findings that were in a sent notice, per legal
    basis (a finding in notices under two bases counts under both). Drafts and web-form
    notices awaiting submission never reached the platform and do not count."""
    pairs = (
        _notices(user)
        .filter(sent_at__isnull=False)
        .filter(findings__removed_at__isnull=False)
        .values_list("legal_basis", "findings__pk", "findings__created_at", "findings__removed_at")
        .distinct()
    )
    groups: dict[str, list[float]] = defaultdict(list)
    for basis, _pk, created, removed_at in pairs:
        assert created is not None and removed_at is not None  # the filter above
        groups[str(LegalBasis(basis).label)].append(hours(removed_at - created))
    return duration_rows(groups)


def notice_outcomes(user: AnyUser) -> list[tuple[str, str, int]]:
    """(status, label, count) for every notice status, drafts and web-form notices awaiting
    submission included, each under its own status (never under "sent")."""
    counts = dict(_notices(user).values_list("status").annotate(n=Count("id")).order_by())
    return [(s.value, str(s.label), counts.get(s.value, 0)) for s in NoticeStatus]


@dataclass(frozen=True)
class NoticeCounts:
    """Notices that reached the platform (sent at a known time, whatever happened next)
    apart from those not sent yet."""

    sent: int
    awaiting_submission: int
    drafts: int


def notice_counts(user: AnyUser) -> NoticeCounts:
    counts = _notices(user).aggregate(
        sent=Count("id", filter=Q(sent_at__isnull=False)),
        awaiting=Count("id", filter=Q(status=NoticeStatus.AWAITING_SUBMISSION)),
        drafts=Count("id", filter=Q(status=NoticeStatus.DRAFT)),
    )
    return NoticeCounts(counts["sent"], counts["awaiting"], counts["drafts"])


@dataclass(frozen=True)
class Reappearance:
    """Of the findings ever removed, how many came back (reappeared at least once)."""

    removed_ever: int
    reappeared: int

    @property
    def rate(self) -> float | None:
        return self.reappeared / self.removed_ever if self.removed_ever else None


def reappearance(user: AnyUser) -> Reappearance:
    findings = _findings(user)
    counts = findings.aggregate(
        removed_ever=Count(
            "id", filter=Q(removed_at__isnull=False) | Q(reappeared_at__isnull=False)
        ),
        reappeared=Count("id", filter=Q(reappeared_at__isnull=False)),
    )
    return Reappearance(counts["removed_ever"], counts["reappeared"])


def latest_observations(user: AnyUser) -> list[tuple[str, str, int]]:
    """(observation, label, findings) by what each finding's latest visit observed, with
    "not_visited" for findings never visited. Unreachable stands apart: it is what our
    collector saw of the network, and never counts as a removal (removal statistics count
    findings confirmed removed: cases.evidence.services.observations)."""
    latest = (
        Capture.objects.filter(finding=OuterRef("pk"), observed_at__isnull=False)
        .order_by("-observed_at", "-id")
        .values("observation")[:1]
    )
    counts = dict(
        _findings(user)
        .annotate(latest=Subquery(latest))
        .values_list("latest")
        .annotate(n=Count("id"))
        .order_by()
    )
    rows = [(o.value, str(o.label), counts.get(o.value, 0)) for o in CaptureObservation]
    return [*rows, ("not_visited", str(_("Not visited yet")), counts.get(None, 0))]


LIVE = (
    FindingStatus.NEW,
    FindingStatus.TRIAGED,
    FindingStatus.CAPTURED,
    FindingStatus.NOTICE_SENT,
    FindingStatus.REAPPEARED,
)


class ArtistExposure(TypedDict):
    stage_name: str
    name_hangul: str
    total: int
    live: int
    removed: int
    reappeared: int


def artist_exposure(user: AnyUser) -> list[ArtistExposure]:
    """Per artist: findings in all, still online, removed, and ever reappeared."""
    agency = agency_for(user)
    if agency is None:
        return []
    rows = (
        Artist.objects.filter(agency=agency)
        .annotate(
            total=Count("findings", distinct=True),
            live=Count("findings", filter=Q(findings__status__in=LIVE), distinct=True),
            removed=Count(
                "findings", filter=Q(findings__status=FindingStatus.REMOVED), distinct=True
            ),
            reappeared=Count(
                "findings", filter=Q(findings__reappeared_at__isnull=False), distinct=True
            ),
        )
        .filter(total__gt=0)
        .order_by("-total", "stage_name")
        .values("stage_name", "name_hangul", "total", "live", "removed", "reappeared")
    )
    return cast("list[ArtistExposure]", list(rows))


def platform_response_times(user: AnyUser) -> list[DurationRow]:
    """A platform's typical response time, measured from our own notices: from sending to
    the first answer (acknowledgement, or a decision when it came without one)."""
    groups: dict[str, list[float]] = defaultdict(list)
    answered = (
        _notices(user)
        .filter(sent_at__isnull=False)
        .filter(Q(acknowledged_at__isnull=False) | Q(status__in=["actioned", "rejected"]))
        .values_list("platform__name", "sent_at", "acknowledged_at", "closed_at")
    )
    for name, sent_at, acknowledged_at, closed_at in answered:
        first = acknowledged_at or closed_at
        assert sent_at is not None  # the filter above
        if first is not None:
            groups[name].append(hours(first - sent_at))
    return duration_rows(groups)


# --------------------------------------------------------------------------- transparency

CONTENT_TYPES: dict[str, Promise] = {
    LegalBasis.DMCA_512C3: _("Copyright infringement (altered copy of an original work)"),
    LegalBasis.EU_DSA_16: _("Illegal content (EU)"),
    LegalBasis.TAKE_IT_DOWN: _("Non-consensual intimate imagery, including digital forgeries"),
    LegalBasis.KR_NETWORK_ACT_44_2: _("Infringement of personal rights (Korea)"),
    LegalBasis.KCSC: _("Harmful content (correction request)"),
    LegalBasis.PLATFORM_POLICY: _("Platform policy violation"),
}
ACTIONS: dict[str, Promise] = {
    NoticeStatus.ACTIONED: _("Content removed or disabled"),
    NoticeStatus.REJECTED: _("Notice rejected, no action"),
    NoticeStatus.NO_RESPONSE: _("No response"),
    NoticeStatus.SENT: _("Pending"),
    NoticeStatus.ACKNOWLEDGED: _("Pending"),
}


@dataclass(frozen=True)
class TransparencyRow:
    provider: str
    content_type: str
    action: str
    notices: int
    median_h: float | None


def transparency_report(user: AnyUser, year: int) -> list[TransparencyRow]:
    """Notices sent in `year` (site time zone) by provider, type of content and action
    taken, with the median time to the decision: what a DSA trusted flagger publishes.
    A web-form notice counts from its recorded submission; one awaiting submission has no
    sent_at and is not in the report."""
    start = timezone.make_aware(datetime(year, 1, 1))
    end = timezone.make_aware(datetime(year + 1, 1, 1))
    sent = (
        _notices(user)
        .filter(sent_at__gte=start, sent_at__lt=end)
        .values_list("platform__name", "legal_basis", "status", "sent_at", "closed_at")
    )
    groups: dict[tuple[str, str, str], list[float | None]] = defaultdict(list)
    for provider, basis, status, sent_at, closed_at in sent:
        key = (provider, str(CONTENT_TYPES[basis]), str(ACTIONS[status]))
        assert sent_at is not None  # the filter above
        decided_at = closed_at if status in ("actioned", "rejected") else None
        groups[key].append(None if decided_at is None else hours(decided_at - sent_at))
    rows = []
    for (provider, content, action), values in groups.items():
        decided_hours = [v for v in values if v is not None]
        rows.append(TransparencyRow(provider, content, action, len(values), median(decided_hours)))
    return sorted(rows, key=lambda r: (r.provider, r.content_type, r.action))


def years_with_notices(user: AnyUser) -> list[int]:
    years = {moment.year for moment in _notices(user).datetimes("sent_at", "year")}
    return sorted(years | {timezone.localtime().year}, reverse=True)
