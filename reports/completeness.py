"""Each finding's capture attempts as the dossier lists them, and the completeness check
(the Berkeley Protocol minimum) computed from its successful captures only."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils.translation import gettext as _

from cases.evidence.models import Capture, EvidenceKind
from reports.attempts import CaptureAttempt, FindingCaptures, attempt_state, record_label
from reports.capture_record import AttemptFile, navigation_of, wacz_of
from reports.items import EvidenceItem
from reports.times import evidence_time


@dataclass
class Completeness:
    """The Berkeley Protocol minimum for one web item (a finding): URL, HTML source, a
    dated full-page screenshot and a hash taken at collection."""

    finding_id: int
    url: str
    has_url: bool
    has_html: bool
    has_screenshot: bool
    has_hash: bool
    # Why the captures give nothing to check ("" when a successful one exists), and the
    # successful captures the row is based on: only those count.
    reason: str = ""
    based_on: list[str] = field(default_factory=list)

    @property
    def missing(self) -> list[str]:
        labels = []
        if not self.has_url:
            labels.append(_("URL"))
        if not self.has_html:
            labels.append(_("HTML source"))
        if not self.has_screenshot:
            labels.append(_("dated full-page screenshot"))
        if not self.has_hash:
            labels.append(_("hash at collection"))
        return labels

    @property
    def complete(self) -> bool:
        return not self.missing


def attempt_build(capture: Capture, files: list[AttemptFile]) -> CaptureAttempt:
    return CaptureAttempt(
        capture=capture,
        state=attempt_state(capture.status),
        requested_url=capture.requested_url,
        final_url=capture.final_url,
        http_status=capture.http_status,
        outcome=capture.outcome,
        outcome_label=str(capture.get_outcome_display()) if capture.outcome else "",
        error=capture.error,
        started_utc=evidence_time(capture.started_at),
        finished_utc=evidence_time(capture.finished_at),
        tool=capture.tool_name,
        tool_version=capture.tool_version,
        collector=capture.collector.get_username() if capture.collector else "",
        files=files,
        observed_utc=evidence_time(capture.observed_at),
        navigation=navigation_of(capture),
        wacz=wacz_of(capture, files),
    )


def capture_sections_build(
    findings: list[Any],
    captures: list[Capture],
    made: dict[int, list[Capture]],
    by_id: dict[int, EvidenceItem],
) -> list[FindingCaptures]:
    """Each finding's capture attempts with the files each produced: evidence items by
    their number, files of unsuccessful attempts as that attempt's record."""
    files: dict[int, list[AttemptFile]] = {}
    for evidence_id, makers in made.items():
        item = by_id.get(evidence_id)
        if item is None:
            continue
        for capture in makers:
            if item.is_record:
                label = record_label(item.evidence.kind)
                entry = AttemptFile(item.evidence, label, record_number=item.number)
            else:
                label = str(item.evidence.get_kind_display())
                entry = AttemptFile(item.evidence, label, number=item.number)
            files.setdefault(capture.pk, []).append(entry)
    by_finding: dict[int, list[CaptureAttempt]] = {}
    for capture in captures:
        own = sorted(files.get(capture.pk, []), key=lambda f: (f.number or 0, f.evidence.pk))
        by_finding.setdefault(capture.finding_id, []).append(attempt_build(capture, own))
    return [FindingCaptures(finding, by_finding.get(finding.pk, [])) for finding in findings]


def completeness_build(
    sections: list[FindingCaptures], by_id: dict[int, EvidenceItem]
) -> list[Completeness]:
    """The Berkeley minimum per finding, from its successful captures only: a failed or
    refused attempt, an unfinished one or a file uploaded by hand makes nothing complete."""
    rows = []
    for section in sections:
        finding = section.finding
        successful = section.successful
        own = [
            by_id[entry.evidence.pk]
            for attempt in successful
            for entry in attempt.files
            if entry.number is not None and entry.evidence.pk in by_id
        ]
        kinds = {item.evidence.kind for item in own}
        if not section.attempts:
            reason = _("no capture was attempted")
        elif not successful:
            reason = _("no successful capture (%(why)s)") % {
                "why": "; ".join(attempt.reason for attempt in section.attempts)
            }
        else:
            reason = ""
        rows.append(
            Completeness(
                finding_id=finding.pk,
                url=finding.canonical_url,
                has_url=bool(finding.canonical_url),
                has_html=EvidenceKind.HTML in kinds,
                has_screenshot=EvidenceKind.SCREENSHOT in kinds,
                has_hash=bool(own) and all(item.hash_at_collection for item in own),
                reason=str(reason),
                based_on=[attempt.number_label for attempt in successful],
            )
        )
    return rows
