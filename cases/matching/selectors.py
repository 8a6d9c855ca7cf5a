"""Reads of the matching context, scoped to one agency: reference media, and the recorded
matches of an evidence item or a finding (with what they tell: findings, cases, artists)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from cases.agency.models import Artist
from cases.evidence.models import Evidence
from cases.intake.models import Finding
from cases.kernel.tenancy import AnyUser, scoped
from cases.legal.models import Case
from cases.matching.models import (
    EvidenceMatch,
    ExchangePartner,
    ExchangeSubscription,
    PartnerMatch,
    ReferenceMedia,
)
from cases.matching.pdq.hashes import LOW_QUALITY


def reference_media_list_for(user: AnyUser) -> QuerySet[ReferenceMedia]:
    """The agency's reference media (official works per artist), newest first."""
    return scoped(
        ReferenceMedia.objects.select_related("artist", "evidence", "created_by"), user
    ).order_by("-created_at", "-id")


def findings_of(items: Iterable[Evidence]) -> dict[int, list[Finding]]:
    """Evidence id -> its findings (directly, or through its capture)."""
    result: dict[int, list[Finding]] = {}
    for item in items:
        findings: list[Finding] = []
        if item.finding is not None:
            findings.append(item.finding)
        capture = item.capture
        if capture is not None and capture.finding_id != item.finding_id:
            findings.append(capture.finding)
        result[item.pk] = findings
    return result


@dataclass(frozen=True)
class Match:
    """One recorded match, seen from one evidence item: the other item, how close, and what
    it tells: the findings and cases it belongs to, and for reference media the artist and
    the official work."""

    evidence: Evidence
    distance: int
    findings: tuple[Finding, ...] = ()
    cases: tuple[Case, ...] = ()
    references: tuple[ReferenceMedia, ...] = ()
    # The item of ours it matched (for a finding's panel with several evidence items).
    matched_from: int | None = None
    # "pdq" (some hash of one within 31 bits of the other's) or "vpdq" (two videos' frame
    # sets): then the percent of our video's frames found in theirs, and of theirs in ours.
    method: str = "pdq"
    frames_percent: float | None = None
    other_frames_percent: float | None = None

    @property
    def is_vpdq(self) -> bool:
        return self.method == "vpdq"

    @property
    def frames_percent_label(self) -> str:
        return f"{self.frames_percent:.0f}%" if self.frames_percent is not None else ""

    @property
    def other_frames_percent_label(self) -> str:
        value = self.other_frames_percent
        return f"{value:.0f}%" if value is not None else ""

    @property
    def is_reference(self) -> bool:
        return bool(self.references)

    @property
    def artists(self) -> list[Artist]:
        seen: dict[int, Artist] = {}
        for reference in self.references:
            seen.setdefault(reference.artist_id, reference.artist)
        return list(seen.values())


def _matches(agency_id: int, own_ids: set[int]) -> list[Match]:
    pairs = (
        EvidenceMatch.objects.filter(agency_id=agency_id)
        .filter(Q(evidence_id__in=own_ids) | Q(matched_evidence_id__in=own_ids))
        .values_list(
            "evidence_id",
            "matched_evidence_id",
            "distance",
            "method",
            "evidence_frames_percent",
            "matched_frames_percent",
        )
    )
    # other item -> (distance, our item, method, our frames %, their frames %)
    best: dict[int, tuple[int, int, str, float | None, float | None]] = {}
    for newer, older, distance, method, newer_percent, older_percent in pairs:
        for mine, other, percents in (
            (newer, older, (newer_percent, older_percent)),
            (older, newer, (older_percent, newer_percent)),
        ):
            if (
                mine in own_ids
                and other not in own_ids
                and (other not in best or distance < best[other][0])
            ):
                best[other] = (distance, mine, method, *percents)
    if not best:
        return []
    items = {
        item.pk: item
        for item in Evidence.objects.filter(agency_id=agency_id, pk__in=list(best)).select_related(
            "finding", "capture__finding"
        )
    }
    findings = findings_of(items.values())
    finding_ids = {f.pk for fs in findings.values() for f in fs}
    cases_by_finding: dict[int, list[Case]] = defaultdict(list)
    if finding_ids:
        through = Case.findings.through
        links = through.objects.filter(
            finding_id__in=finding_ids, case__agency_id=agency_id
        ).select_related("case")
        for link in links:
            cases_by_finding[link.finding_id].append(link.case)
    references: dict[int, list[ReferenceMedia]] = defaultdict(list)
    for reference in ReferenceMedia.objects.filter(
        agency_id=agency_id, evidence_id__in=list(items)
    ).select_related("artist"):
        references[reference.evidence_id].append(reference)
    result = []
    for other, (distance, mine, method, percent, other_percent) in best.items():
        item = items.get(other)
        if item is None:
            continue
        item_findings = findings.get(other, [])
        item_cases = {c.pk: c for f in item_findings for c in cases_by_finding.get(f.pk, [])}
        result.append(
            Match(
                evidence=item,
                distance=distance,
                findings=tuple(item_findings),
                cases=tuple(item_cases.values()),
                references=tuple(references.get(other, [])),
                matched_from=mine,
                method=method,
                frames_percent=percent,
                other_frames_percent=other_percent,
            )
        )
    result.sort(key=lambda m: (not m.is_reference, m.distance, m.evidence.pk))
    return result


def evidence_matches_for(*, evidence: Evidence) -> list[Match]:
    """The recorded matches of one item, within its agency only: reference media first
    (they name the artist and the work), then by distance."""
    return _matches(evidence.agency_id, {evidence.pk})


@dataclass
class FindingMatches:
    """What a finding's matches panel shows."""

    matches: list[Match] = field(default_factory=list)
    # Cases of matching findings that this finding is not part of yet.
    suggested_cases: list[Case] = field(default_factory=list)
    # Findings that share material with this one.
    related_findings: list[Finding] = field(default_factory=list)
    low_quality: list[Evidence] = field(default_factory=list)


def finding_matches(*, finding: Finding) -> FindingMatches:
    """Matches of all the finding's evidence against the rest of its agency's material."""
    own = list(
        Evidence.objects.filter(agency_id=finding.agency_id)
        .filter(Q(finding=finding) | Q(capture__finding=finding))
        .only("pk", "pdq_quality", "kind", "media_type", "original_name")
    )
    result = FindingMatches()
    if not own:
        return result
    result.low_quality = [
        e for e in own if e.pdq_quality is not None and e.pdq_quality < LOW_QUALITY
    ]
    result.matches = _matches(finding.agency_id, {e.pk for e in own})
    current_cases = set(finding.cases.values_list("pk", flat=True))
    cases: dict[int, Case] = {}
    related: dict[int, Finding] = {}
    for match in result.matches:
        for case in match.cases:
            if case.pk not in current_cases:
                cases.setdefault(case.pk, case)
        for other in match.findings:
            if other.pk != finding.pk:
                related.setdefault(other.pk, other)
    result.suggested_cases = list(cases.values())
    result.related_findings = list(related.values())
    return result


def partner_matches_of_finding(*, finding: Finding) -> list[PartnerMatch]:
    """The partner-signal matches of the finding's evidence (direct or through its captures),
    nearest first: which partner's signal matched, how and at what distance."""
    items = Evidence.objects.filter(agency_id=finding.agency_id).filter(
        Q(finding=finding) | Q(capture__finding=finding)
    )
    return list(
        PartnerMatch.objects.filter(agency_id=finding.agency_id, evidence__in=items)
        .select_related("subscription")
        .order_by("distance", "-id")
    )


def exchange_partners_for(user: AnyUser) -> QuerySet[ExchangePartner]:
    return scoped(ExchangePartner.objects.all(), user).order_by("name", "id")


def exchange_subscriptions_for(user: AnyUser) -> QuerySet[ExchangeSubscription]:
    return scoped(ExchangeSubscription.objects.all(), user).order_by("name", "id")
