"""A case's timeline, built from the rows that already exist: the case's own audit events,
its findings, their captures, evidence, reveals, status changes (removals, reappearances),
the notices about them and the platforms' answers, deadlines, tasks and comments.

Each source is one query of at most `limit` rows, newest first, so a page costs the same
number of queries however long the case is; the entries are merged and cut to the page.
Apps above `cases` add their own sources with `timeline_source_register` (detection adds
its verdicts), so this module never imports them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from django.db.models import F, Q, QuerySet
from django.db.models.functions import Coalesce, Greatest
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.evidence.models import Capture, CaptureStatus, CustodyAction, CustodyEvent, Evidence
from cases.intake.models import Finding, FindingStatus
from cases.kernel.models import AuditEvent
from cases.kernel.net.outcome import FetchOutcome
from cases.legal.models import Case, CaseStatus
from cases.notices.models import Notice, NoticeStatus
from cases.work.mentions import comment_html
from cases.work.models import Comment

TIMELINE_PAGE = 30
# Each source reads page * TIMELINE_PAGE rows: beyond this page (3,000 entries) the audit
# trail and the dossier hold the rest, so a crafted ?page= cannot read whole tables.
TIMELINE_MAX_PAGE = 100


@dataclass(frozen=True)
class TimelineEntry:
    """One line of the timeline, in words a person reads (no audit codes, no machine text)."""

    at: datetime
    kind: str  # a CSS hook: finding, capture, evidence, reveal, verdict, notice, response, ...
    label: str
    detail: str | SafeString = ""
    finding_id: int | None = None
    url: str = ""
    actor: str = ""
    failed: bool = False


TimelineSource = Callable[[Case, int], list[TimelineEntry]]
_extra_sources: dict[str, TimelineSource] = {}


def timeline_source_register(name: str, source: TimelineSource) -> None:
    """Add a source of entries (called from an AppConfig.ready above `cases`)."""
    _extra_sources[name] = source


def case_findings_subquery(case: Case) -> QuerySet[Finding, Any]:
    return Finding.objects.filter(cases=case).values("pk")


def _label(choices: type, value: str) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return value


# ---------------------------------------------------------------------------- the sources


def _findings(case: Case, limit: int) -> list[TimelineEntry]:
    rows = Finding.objects.filter(cases=case).order_by("-created_at", "-id")[:limit]
    return [
        TimelineEntry(
            at=f.created_at,
            kind="finding",
            label=_("Finding recorded"),
            detail=f.canonical_url,
            finding_id=f.pk,
            url=reverse("finding_detail", args=[f.pk]),
        )
        for f in rows.only("pk", "created_at", "canonical_url")
    ]


CAPTURE_LABELS = {
    CaptureStatus.QUEUED: gettext_lazy("Capture queued"),
    CaptureStatus.RUNNING: gettext_lazy("Capture running"),
    CaptureStatus.DONE: gettext_lazy("Page captured"),
    CaptureStatus.FAILED: gettext_lazy("Capture failed"),
    CaptureStatus.REFUSED: gettext_lazy("Capture refused"),
}


def _captures(case: Case, limit: int) -> list[TimelineEntry]:
    rows = (
        Capture.objects.filter(finding__in=case_findings_subquery(case))
        .annotate(at=Coalesce("finished_at", "created_at"))
        .order_by("-at", "-id")
        .only("pk", "finding_id", "status", "outcome", "http_status", "created_at", "finished_at")[
            :limit
        ]
    )
    entries = []
    for capture in rows:
        failed = capture.status in (CaptureStatus.FAILED, CaptureStatus.REFUSED)
        detail = _label(FetchOutcome, capture.outcome) if capture.outcome else ""
        if capture.status == CaptureStatus.DONE and capture.http_status:
            detail = _("HTTP status %(status)s") % {"status": capture.http_status}
        entries.append(
            TimelineEntry(
                at=capture.at,
                kind="capture",
                label=str(CAPTURE_LABELS.get(CaptureStatus(capture.status), _("Capture"))),
                detail=detail,
                finding_id=capture.finding_id,
                url=reverse("capture_detail", args=[capture.pk]),
                failed=failed,
            )
        )
    return entries


def _evidence(case: Case, limit: int) -> list[TimelineEntry]:
    rows = (
        Evidence.objects.filter(finding__in=case_findings_subquery(case))
        .order_by("-collected_at", "-id")
        .only("pk", "finding_id", "kind", "original_name", "collected_at")[:limit]
    )
    return [
        TimelineEntry(
            at=e.collected_at,
            kind="evidence",
            label=_("Evidence stored"),
            detail=" · ".join(filter(None, [e.get_kind_display(), e.original_name])),
            finding_id=e.finding_id,
            url=reverse("evidence_detail", args=[e.pk]),
        )
        for e in rows
    ]


def _reveals(case: Case, limit: int) -> list[TimelineEntry]:
    rows = (
        CustodyEvent.objects.filter(
            action=CustodyAction.REVEALED,
            evidence__finding__in=case_findings_subquery(case),
        )
        .select_related("evidence")
        .order_by("-created_at", "-id")[:limit]
    )
    return [
        TimelineEntry(
            at=event.created_at,
            kind="reveal",
            label=_("Media shown unblurred"),
            detail=event.reason,
            finding_id=event.evidence.finding_id,
            url=reverse("evidence_detail", args=[event.evidence_id]),
            actor=event.actor_label,
        )
        for event in rows
    ]


NOTICE_RESPONSES = {
    NoticeStatus.ACTIONED: gettext_lazy("Platform removed the content"),
    NoticeStatus.REJECTED: gettext_lazy("Platform rejected the notice"),
    NoticeStatus.NO_RESPONSE: gettext_lazy("No response from the platform"),
}


def _notices(case: Case, limit: int) -> list[TimelineEntry]:
    notice_ids = Notice.findings.through.objects.filter(
        finding__in=case_findings_subquery(case)
    ).values("notice_id")
    rows = (
        Notice.objects.filter(pk__in=notice_ids)
        .select_related("platform")
        .annotate(last=Greatest(Coalesce("closed_at", "created_at"), F("created_at")))
        .order_by("-last", "-id")[:limit]
    )
    entries = []
    for notice in rows:
        url = reverse("notice_detail", args=[notice.pk])
        platform = notice.platform.name
        if notice.sent_at:
            entries.append(
                TimelineEntry(
                    at=notice.sent_at,
                    kind="notice",
                    label=_("Notice sent to %(platform)s") % {"platform": platform},
                    detail=notice.get_legal_basis_display(),
                    url=url,
                )
            )
        else:
            entries.append(
                TimelineEntry(
                    at=notice.created_at,
                    kind="notice",
                    label=_("Notice drafted for %(platform)s") % {"platform": platform},
                    detail=notice.get_status_display(),
                    url=url,
                )
            )
        if notice.acknowledged_at:
            entries.append(
                TimelineEntry(
                    at=notice.acknowledged_at,
                    kind="response",
                    label=_("%(platform)s acknowledged the notice") % {"platform": platform},
                    url=url,
                )
            )
        if notice.closed_at and notice.status in NOTICE_RESPONSES:
            entries.append(
                TimelineEntry(
                    at=notice.closed_at,
                    kind="response",
                    label=str(NOTICE_RESPONSES[NoticeStatus(notice.status)]),
                    detail=notice.outcome_note,
                    url=url,
                    failed=notice.status != NoticeStatus.ACTIONED,
                )
            )
    return entries


STATUS_MOVES = {
    FindingStatus.REMOVED: gettext_lazy("Removed from the platform"),
    FindingStatus.REAPPEARED: gettext_lazy("Online again (reappeared)"),
}


def _audit(case: Case, limit: int) -> list[TimelineEntry]:
    """The case's own events and its findings' status changes (removals, reappearances)."""
    finding_ids = [str(pk) for pk in case.findings.values_list("pk", flat=True)]
    case_events = AuditEvent.objects.filter(
        agency_id=case.agency_id, object_type="case", object_id=str(case.pk)
    ).exclude(action="comment.added")
    status_events = AuditEvent.objects.filter(
        agency_id=case.agency_id,
        object_type="finding",
        object_id__in=finding_ids,
        action="finding.status_changed",
    )
    rows = (case_events | status_events).order_by("-seq")[:limit]
    entries = []
    for event in rows:
        entry = _audit_entry(event)
        if entry is not None:
            entries.append(entry)
    return entries


def _audit_entry(event: AuditEvent) -> TimelineEntry | None:
    data = event.data or {}
    if event.action == "finding.status_changed":
        to = str(data.get("to", ""))
        moved = _label(FindingStatus, str(data.get("from", ""))) + " → " + _label(FindingStatus, to)
        reason = str(data.get("reason") or "")
        label = STATUS_MOVES.get(to, gettext_lazy("Finding status changed"))  # type: ignore[call-overload]
        return TimelineEntry(
            at=event.created_at,
            kind="removal" if to == FindingStatus.REMOVED else "status",
            label=str(label),
            detail=f"{moved} ({reason})" if reason else moved,
            finding_id=int(event.object_id),
            url=reverse("finding_detail", args=[event.object_id]),
            actor=event.actor_label,
            failed=to == FindingStatus.REAPPEARED,
        )
    label, detail = _case_event_words(event.action, data)
    if not label:
        return None
    return TimelineEntry(
        at=event.created_at, kind="case", label=label, detail=detail, actor=event.actor_label
    )


def _ids(values: object) -> str:
    return ", ".join(f"#{pk}" for pk in values) if isinstance(values, list) else ""


def _case_event_words(action: str, data: dict[str, object]) -> tuple[str, str]:
    if action == "case.created":
        return _("Case opened"), str(data.get("title", ""))
    if action in ("case.status_changed", "case.updated"):
        status = data.get("status")
        if isinstance(status, dict):
            old = _label(CaseStatus, str(status.get("from")))
            new = _label(CaseStatus, str(status.get("to")))
            return _("Case status changed"), f"{old} → {new}"
        return _("Case details edited"), ""
    if action == "case.findings_linked":
        return _("Findings linked"), _ids(data.get("findings"))
    if action == "case.findings_unlinked":
        return _("Findings unlinked"), _ids(data.get("findings"))
    if action == "case.artists_added":
        return _("Artists added from linked findings"), ", ".join(
            str(name)
            for name in data.get("names", []) or []  # type: ignore[attr-defined]
        )
    if action == "case.deadline_added":
        return _("Deadline added"), str(data.get("title", ""))
    if action == "case.deadline_done":
        return _("Deadline met"), str(data.get("title", ""))
    if action == "task.added":
        return _("Task added"), str(data.get("title", ""))
    if action == "task.done":
        return _("Task done"), str(data.get("title", ""))
    return "", ""


def _deadlines(case: Case, limit: int) -> list[TimelineEntry]:
    zone = timezone.get_current_timezone()
    return [
        TimelineEntry(
            at=datetime.combine(d.due_on, time.min, tzinfo=zone),
            kind="deadline",
            label=_("Deadline met: %(title)s") % {"title": d.title}
            if d.done
            else _("Deadline due: %(title)s") % {"title": d.title},
        )
        for d in case.deadlines.order_by("-due_on", "-id")[:limit]
    ]


def _comments(case: Case, limit: int) -> list[TimelineEntry]:
    rows = (
        Comment.objects.filter(agency_id=case.agency_id)
        .filter(Q(case=case) | Q(finding__in=case_findings_subquery(case)))
        .prefetch_related("mentions")
        .order_by("-created_at", "-id")[:limit]
    )
    return [
        TimelineEntry(
            at=c.created_at,
            kind="comment",
            label=_("Comment"),
            detail=comment_html(c.body, [u.get_username() for u in c.mentions.all()]),
            finding_id=c.finding_id,
            url=reverse("finding_detail", args=[c.finding_id]) if c.finding_id else "",
            actor=c.author_label,
        )
        for c in rows
    ]


SOURCES: tuple[TimelineSource, ...] = (
    _findings,
    _captures,
    _evidence,
    _reveals,
    _notices,
    _audit,
    _deadlines,
    _comments,
)


def case_timeline(
    case: Case, *, page: int = 1, page_size: int = TIMELINE_PAGE
) -> tuple[list[TimelineEntry], bool]:
    """Entries of one page, newest first, and whether older ones exist."""
    page = max(page, 1)
    if page > TIMELINE_MAX_PAGE:
        return [], False
    limit = page * page_size + 1
    entries: list[TimelineEntry] = []
    for source in (*SOURCES, *_extra_sources.values()):
        entries.extend(source(case, limit))
    entries.sort(key=lambda e: e.at, reverse=True)
    start = (page - 1) * page_size
    return entries[start : start + page_size], len(entries) > start + page_size
