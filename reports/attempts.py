"""Capture attempts as a dossier reports them: every capture of every finding of a case,
whatever its outcome, and which stored files each one produced.

Only a capture that finished as "done" captured content. The files of a failed or refused
capture (its exchange record and WARC, sometimes a screenshot taken before it failed) are
kept and exported, but as the record of that attempt, never as evidence of the content.
Evidence is content-addressed: the same bytes produced again by a later capture (an
unchanged page on re-check) are one Evidence row whose `capture` is the first capture, so
the producers of a file are read from each capture's artefact list too."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext as _

from cases.evidence.models import Capture, CaptureStatus, Evidence, EvidenceKind
from cases.legal.models import Case
from reports.capture_record import AttemptFile, Navigation, RemovalBasis, WaczRecord

# Which of the four things a capture attempt can have come to.
DONE, FAILED, REFUSED, UNFINISHED = "done", "failed", "refused", "unfinished"


def attempt_state(status: str) -> str:
    if status == CaptureStatus.DONE:
        return DONE
    if status == CaptureStatus.FAILED:
        return FAILED
    if status == CaptureStatus.REFUSED:
        return REFUSED
    return UNFINISHED


def record_label(kind: str) -> str:
    """What a file of an unsuccessful attempt is, said without claiming content."""
    labels = {
        EvidenceKind.HEADERS: _("log of the HTTP exchange (JSON)"),
        EvidenceKind.WARC: _("WARC of the visit"),
        EvidenceKind.SCREENSHOT: _("screenshot taken before the attempt failed"),
        EvidenceKind.HTML: _("HTML received before the attempt failed"),
        EvidenceKind.MEDIA: _("media fetched before the attempt failed"),
        EvidenceKind.WACZ: _("web archive (WACZ) of the visit"),
        EvidenceKind.DOM: _("rendered DOM taken before the attempt failed"),
    }
    return str(labels.get(EvidenceKind(kind), _("file of the attempt")))


@dataclass
class CaptureAttempt:
    """One capture of a finding's URL and how it ended."""

    capture: Capture
    state: str
    requested_url: str
    final_url: str
    http_status: int | None
    outcome: str
    outcome_label: str
    error: str
    started_utc: str
    finished_utc: str
    tool: str
    tool_version: str
    collector: str
    files: list[AttemptFile] = field(default_factory=list)
    observed_utc: str = ""
    # How the page behaved in the browser and the WACZ of the visit (reports.capture_record);
    # None when the attempt recorded none.
    navigation: Navigation | None = None
    wacz: WaczRecord | None = None
    # One of the two removal observations the dossier names for a Removed finding.
    confirms_removal: bool = False

    @property
    def succeeded(self) -> bool:
        return self.state == DONE

    def file_number(self, kind: str) -> int | None:
        """The evidence item number of this attempt's file of `kind`, if it has one."""
        return next((f.number for f in self.files if f.evidence.kind == kind and f.number), None)

    @property
    def dom_statement(self) -> str:
        """When the page changed after it was served: which file the screenshot matches."""
        if (
            not self.succeeded
            or self.navigation is None
            or not self.navigation.screenshot_is_of_dom
        ):
            return ""
        numbers = {
            "screenshot": self.file_number(EvidenceKind.SCREENSHOT),
            "dom": self.file_number(EvidenceKind.DOM),
            "html": self.file_number(EvidenceKind.HTML),
        }
        if numbers["screenshot"] is None or numbers["dom"] is None:
            return ""
        if numbers["html"] is None:
            return (
                _(
                    "The screenshot (evidence item %(screenshot)s) corresponds to the rendered DOM "
                    "snapshot (evidence item %(dom)s), not to the HTML as served."
                )
                % numbers
            )
        return (
            _(
                "The screenshot (evidence item %(screenshot)s) corresponds to the rendered DOM "
                "snapshot (evidence item %(dom)s), not to the HTML as served (evidence item "
                "%(html)s)."
            )
            % numbers
        )

    @property
    def number_label(self) -> str:
        """ "Capture #12" or "Re-check #13", as the dossier names it everywhere."""
        template = _("Re-check #%(id)s") if self.capture.is_recheck else _("Capture #%(id)s")
        return template % {"id": self.capture.pk}

    @property
    def reason(self) -> str:
        """Why this attempt captured nothing, for the completeness check ("" when done)."""
        # The sentence around it ends itself; the recorded error often ends with a period.
        why = (self.error or self.outcome_label).strip().rstrip(".")
        values = {"id": self.capture.pk, "why": why}
        if self.state == FAILED:
            return _("capture #%(id)s failed: %(why)s") % values
        if self.state == REFUSED:
            return _("capture #%(id)s refused: %(why)s") % values
        if self.state == UNFINISHED:
            return _("capture #%(id)s not finished") % values
        return ""


@dataclass
class FindingCaptures:
    """The "Capture attempts" section of one finding."""

    finding: Any
    attempts: list[CaptureAttempt]
    # Why the finding is Removed, when its status is (reports.capture_record).
    removal: RemovalBasis | None = None

    @property
    def successful(self) -> list[CaptureAttempt]:
        return [attempt for attempt in self.attempts if attempt.succeeded]


def case_captures(case: Case, finding_ids: Iterable[int]) -> list[Capture]:
    """Every capture of the case's findings, oldest first, in the case's agency."""
    return list(
        Capture.objects.filter(agency_id=case.agency_id, finding_id__in=list(finding_ids))
        .select_related("collector")
        .order_by("created_at", "id")
    )


def artefact_ids(capture: Capture) -> set[int]:
    """Evidence ids the capture recorded producing (reused rows included)."""
    ids = set()
    for entry in (capture.details or {}).get("artefacts") or []:
        if isinstance(entry, dict) and isinstance(entry.get("evidence"), int):
            ids.add(entry["evidence"])
    return ids


def producers(captures: list[Capture], evidence: Iterable[Evidence]) -> dict[int, list[Capture]]:
    """Evidence id -> the captures that produced it (by its own link or an artefact list)."""
    by_evidence: dict[int, dict[int, Capture]] = {}
    for capture in captures:
        for evidence_id in artefact_ids(capture):
            by_evidence.setdefault(evidence_id, {})[capture.pk] = capture
    for item in evidence:
        if item.capture_id is not None and item.capture is not None:
            by_evidence.setdefault(item.pk, {})[item.capture_id] = item.capture
    return {
        pk: sorted(found.values(), key=lambda c: (c.created_at, c.pk))
        for pk, found in by_evidence.items()
    }


def is_content(evidence: Evidence, made_by: list[Capture]) -> bool:
    """Evidence of content: produced by a successful capture, or added without any capture
    (an upload). Files only unsuccessful attempts produced are records of those attempts."""
    if not made_by:
        return evidence.capture_id is None
    return any(capture.status == CaptureStatus.DONE for capture in made_by)


def case_evidence_queryset(case: Case, finding_ids: list[int], captures: list[Capture]) -> Any:
    """The case's stored files: linked to one of its findings or captures, or listed by one
    of its captures as produced (same bytes as an earlier file)."""
    extra = set().union(*(artefact_ids(capture) for capture in captures)) if captures else set()
    return (
        Evidence.objects.filter(agency_id=case.agency_id)
        .filter(
            Q(finding_id__in=finding_ids)
            | Q(capture__finding_id__in=finding_ids)
            | Q(pk__in=sorted(extra))
        )
        .exclude(kind=EvidenceKind.REFERENCE)
    )


def content_evidence_ids(case: Case) -> list[int]:
    """Ids of the case's evidence of content (what an annex may show), in a few queries."""
    finding_ids = list(case.findings.values_list("pk", flat=True))
    captures = case_captures(case, finding_ids)
    evidence = list(
        case_evidence_queryset(case, finding_ids, captures)
        .select_related("capture")
        .order_by("finding_id", "collected_at", "id")
    )
    made = producers(captures, evidence)
    return [item.pk for item in evidence if is_content(item, made.get(item.pk, []))]
