"""Everything a dossier, an annex and a packet manifest say about a case, gathered in a
bounded number of queries (one per relation, prefetched), as plain data.

The builder reads by the case's agency, never across agencies: a case's findings, their
evidence (directly or through a capture), and for each item its capture record, custody
log, detection runs and reviews. Nothing here renders or writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone

from cases.evidence.models import Capture
from cases.intake.models import FindingStatus
from cases.kernel.audit.services import AnchorOutcome
from cases.kernel.models import AuditEvent
from cases.legal.models import Case
from cases.notices.models import Notice
from detection.models import DetectorVersion
from reports.attempts import FindingCaptures, case_captures, is_content, producers
from reports.capture_record import RemovalBasis, removal_bases
from reports.completeness import Completeness, capture_sections_build, completeness_build
from reports.items import (
    ROLE_EVIDENCE,
    ROLE_RECORD,
    EvidenceItem,
    evidence_item_build,
    evidence_items_queryset,
)
from reports.times import evidence_time, utc_and_local

# A dossier is for people: past this, the packet's manifest.json has the rest.
MAX_TIMELINE_EVENTS = 2000


@dataclass
class NoticeRow:
    reference: str
    platform: str
    basis: str
    status: str
    sent: str


@dataclass
class DossierContext:
    case: Case
    agency_name: str
    artists: list[Any]
    findings: list[Any]
    # Evidence of content, numbered 1..n; records of unsuccessful capture attempts, R1..Rk.
    items: list[EvidenceItem]
    records: list[EvidenceItem]
    capture_sections: list[FindingCaptures]
    # Why each finding whose status is Removed is (confirming observations, or who set it).
    removals: list[RemovalBasis]
    completeness: list[Completeness]
    notices: list[NoticeRow]
    timeline: list[AuditEvent]
    timeline_truncated: bool
    detector_installed: bool
    generated_at: datetime
    generated_utc: str
    generated_kst: str
    # Set by the export (reports.services): the chain head anchored for this dossier.
    audit_anchor: AnchorOutcome | None = None

    @property
    def files(self) -> list[EvidenceItem]:
        """Every stored file the dossier names and a packet holds: evidence, then records."""
        return [*self.items, *self.records]

    @property
    def evidence_hashes(self) -> list[str]:
        """The SHA-256 of every file exported (custody is logged for each, records too)."""
        return [item.evidence.sha256 for item in self.files]

    @property
    def incomplete_count(self) -> int:
        return sum(1 for row in self.completeness if not row.complete)


def _notices(case: Case, finding_ids: list[int]) -> list[NoticeRow]:
    """The takedown notices of the case's findings, oldest first (at most 500)."""
    notices = (
        Notice.objects.filter(agency_id=case.agency_id, findings__in=finding_ids)
        .distinct()
        .select_related("platform")
        .order_by("pk")[:500]
    )
    return [
        NoticeRow(
            reference=f"#{notice.pk}",
            platform=str(notice.platform),
            basis=str(notice.get_legal_basis_display()),
            status=str(notice.get_status_display()),
            sent=evidence_time(notice.sent_at) if notice.sent_at else "",
        )
        for notice in notices
    ]


def _timeline(case: Case, finding_ids: list[int]) -> tuple[list[AuditEvent], bool]:
    events = list(
        AuditEvent.objects.filter(agency_id=case.agency_id)
        .filter(
            Q(object_type="case", object_id=str(case.pk))
            | Q(object_type="finding", object_id__in=[str(pk) for pk in finding_ids])
        )
        .order_by("seq")[: MAX_TIMELINE_EVENTS + 1]
    )
    return events[:MAX_TIMELINE_EVENTS], len(events) > MAX_TIMELINE_EVENTS


def _removals(
    findings: list[Any], captures: list[Capture], sections: list[FindingCaptures]
) -> list[RemovalBasis]:
    """Each Removed finding's basis, also marked on its section and confirming attempts."""
    removed = [str(f.pk) for f in findings if f.status == FindingStatus.REMOVED]
    events = list(
        AuditEvent.objects.filter(
            agency_id=findings[0].agency_id if findings else 0,
            object_type="finding",
            object_id__in=removed,
            action="finding.status_changed",
        ).order_by("seq")
        if removed
        else []
    )
    bases = removal_bases(findings, captures, events)
    for section in sections:
        section.removal = bases.get(section.finding.pk)
        if section.removal is not None:
            for attempt in section.attempts:
                attempt.confirms_removal = attempt.capture.pk in section.removal.confirm_ids
    return list(bases.values())


def dossier_context_build(case: Case, *, evidence_ids: list[int] | None = None) -> DossierContext:
    """Gather a case's dossier content. `evidence_ids` narrows the items (the annex)."""
    finding_ids = list(case.findings.values_list("pk", flat=True))
    captures = case_captures(case, finding_ids)
    stored = list(evidence_items_queryset(case, finding_ids, captures))
    made = producers(captures, stored)
    if evidence_ids is not None:
        stored = [evidence for evidence in stored if evidence.pk in set(evidence_ids)]
    # Active implies gate-passing and not legacy (a constraint); said explicitly all the same.
    installed = DetectorVersion.objects.filter(
        active=True, gates_passed=True, legacy=False
    ).exists()
    items: list[EvidenceItem] = []
    records: list[EvidenceItem] = []
    for evidence in stored:
        makers = made.get(evidence.pk, [])
        if is_content(evidence, makers):
            items.append(evidence_item_build(len(items) + 1, evidence, makers, ROLE_EVIDENCE))
        else:
            records.append(evidence_item_build(len(records) + 1, evidence, makers, ROLE_RECORD))
    findings = list(case.findings.select_related("platform").order_by("pk").defer("notes"))
    counts: dict[int, int] = {}
    for item in items:
        if item.finding_id is not None:
            counts[item.finding_id] = counts.get(item.finding_id, 0) + 1
    for finding in findings:
        finding.evidence_count = counts.get(finding.pk, 0)  # type: ignore[attr-defined]
    by_id = {item.evidence.pk: item for item in [*items, *records]}
    sections = capture_sections_build(findings, captures, made, by_id)
    removals = _removals(findings, captures, sections)
    notices = _notices(case, finding_ids)
    timeline, truncated = _timeline(case, finding_ids)
    now = timezone.now()
    utc, kst = utc_and_local(now)
    return DossierContext(
        case=case,
        agency_name=case.agency.name,
        artists=list(case.artists.order_by("stage_name")),
        findings=findings,
        items=items,
        records=records,
        capture_sections=sections,
        removals=removals,
        completeness=completeness_build(sections, by_id),
        notices=notices,
        timeline=timeline,
        timeline_truncated=truncated,
        detector_installed=installed,
        generated_at=now,
        generated_utc=utc,
        generated_kst=kst,
    )
