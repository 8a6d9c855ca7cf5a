"""Re-upload matching on evidence: PDQ hashing after ingest, recorded matches, and the artist
links that matches with reference media imply (reference media themselves: services.
reference_media; the per-agency index: services.matching_index).

Flow for a new image evidence item (cases.matching.tasks.evidence_pdq_task, queued after the
ingest commits):
1. evidence_compute_pdq hashes the image once (whole picture + standard crops + the picture
   without letterbox/caption bars for storage, rotations/mirrors of those for querying),
   sets Evidence.pdq_hash/pdq_hash_trimmed/pdq_quality, stores a PdqFingerprint, commits;
2. then matching_link_new_evidence asks the agency's index, records an EvidenceMatch per
   matching item, and, where one side is reference media and the other belongs to a finding,
   links the reference's artists to that finding; each step writes its audit event.
Committing the fingerprint before querying matters: of two items hashed at the same time,
whichever queries last sees the other, so no pair is missed.

Everything is per agency: an agency's index holds only its own fingerprints, and every read
filters by the evidence's agency."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import IO

from django.db import transaction
from django.db.models import Q
from PIL import Image

from cases.agency.models import Artist
from cases.evidence.models import Evidence, EvidenceKind
from cases.evidence.services.evidence import evidence_open
from cases.intake.models import Finding
from cases.kernel.audit.services import audit_record
from cases.legal.models import Case
from cases.matching.models import EvidenceMatch, FingerprintSource, PdqFingerprint, ReferenceMedia
from cases.matching.pdq.hashes import (
    HASH_BYTES,
    LOW_QUALITY,
    MATCH_DISTANCE,
    HashError,
    hash_to_bytes,
    hash_to_hex,
)
from cases.matching.pdq.images import pdq_analyse, pdq_hash_frames
from cases.matching.services.index import matching_index_for

log = logging.getLogger(__name__)

# Kinds whose pictures are content worth matching. Screenshots are left out on purpose: two
# screenshots of different videos on one platform share most of their pixels (the page
# around the video) and would link unrelated findings.
MATCHED_KINDS = frozenset({EvidenceKind.MEDIA, EvidenceKind.UPLOAD, EvidenceKind.REFERENCE})


# ------------------------------------------------------------------------------ hashing


def _is_matched_kind(evidence: Evidence) -> bool:
    return evidence.kind in MATCHED_KINDS


def _fingerprint_store(
    *,
    evidence: Evidence,
    source: str,
    hashes: Sequence[str],
    quality: int,
    pdq_hash: str,
    pdq_hash_trimmed: str,
) -> PdqFingerprint:
    """Set Evidence.pdq_hash/pdq_hash_trimmed/pdq_quality and (re)place the fingerprint, in
    one transaction.
    An identical fingerprint is kept as is, so re-running never invalidates the cache."""
    packed = b"".join(hash_to_bytes(h) for h in hashes)
    with transaction.atomic():
        current = PdqFingerprint.objects.select_for_update().filter(evidence=evidence).first()
        if current is not None and bytes(current.hashes) == packed and current.quality == quality:
            fingerprint = current
        else:
            if current is not None:
                current.delete()
            fingerprint = PdqFingerprint.objects.create(
                agency_id=evidence.agency_id,
                evidence=evidence,
                source=source,
                hashes=packed,
                count=len(hashes),
                quality=quality,
            )
        current_values = (evidence.pdq_hash, evidence.pdq_hash_trimmed, evidence.pdq_quality)
        if current_values != (pdq_hash, pdq_hash_trimmed, quality):
            evidence.pdq_hash, evidence.pdq_hash_trimmed = pdq_hash, pdq_hash_trimmed
            evidence.pdq_quality = quality
            evidence.save(update_fields=["pdq_hash", "pdq_hash_trimmed", "pdq_quality"])
    return fingerprint


def evidence_compute_pdq(*, evidence: Evidence) -> list[EvidenceMatch] | None:
    """Hash an image evidence item, store the hashes, then find and record its matches.

    Returns the new matches, or None when the item is not hashed: not an image, a kind we do
    not match (screenshots, HTML, WARC, headers), or unreadable as an image. Idempotent: a
    second run finds the same fingerprint and records nothing new."""
    if not _is_matched_kind(evidence) or not evidence.is_image:
        return None
    try:
        with evidence_open(evidence) as handle:
            analysis = pdq_analyse(handle)
    except HashError as exc:
        log.warning("evidence %s: no PDQ hash: %s", evidence.pk, exc)
        return None
    _fingerprint_store(
        evidence=evidence,
        source=FingerprintSource.IMAGE,
        hashes=analysis.stored,
        quality=analysis.quality,
        pdq_hash=analysis.hex,
        pdq_hash_trimmed=analysis.trimmed_hex,
    )
    return matching_link_new_evidence(evidence=evidence, queries=analysis.queries)


def evidence_record_video_frames(
    *, evidence: Evidence, frames: Iterable[bytes | IO[bytes] | Image.Image]
) -> list[EvidenceMatch] | None:
    """Store the PDQ hashes of a video's keyframes (decoded by the caller, e.g. the capture
    pipeline) and match them: a screenshot of an official MV then finds the MV. Each frame
    is hashed whole and without its letterbox or caption bars, as images are. The item's
    pdq_hash (and pdq_hash_trimmed) is its first distinct keyframe's. None when no frame
    could be hashed."""
    if not _is_matched_kind(evidence):
        return None
    frame_hashes = pdq_hash_frames(frames)
    if not frame_hashes:
        return None
    quality = max(frame.quality for frame in frame_hashes)
    hashes = list(dict.fromkeys(h for frame in frame_hashes for h in frame.hashes))
    _fingerprint_store(
        evidence=evidence,
        source=FingerprintSource.VIDEO,
        hashes=hashes,
        quality=quality,
        pdq_hash=frame_hashes[0].hex,
        pdq_hash_trimmed=frame_hashes[0].trimmed_hex,
    )
    return matching_link_new_evidence(evidence=evidence, queries=hashes)


VIDEO_KEYFRAMES = 8


def evidence_video_keyframes(*, evidence: Evidence) -> list[EvidenceMatch] | None:
    """Decode up to VIDEO_KEYFRAMES frames spread over a video evidence item and store and
    match their PDQ hashes. Needs PyAV (the detection extra, which `make run`, `make test`
    and the GPU image install); without it, or for an unreadable video, the item stays
    unhashed and the reason is logged."""
    if not _is_matched_kind(evidence) or not evidence.media_type.startswith("video/"):
        return None
    # cases.kernel.decode is pure (Pillow, numpy, PyAV; no torch), fine in any worker.
    from cases.kernel.decode import DecodeError, UnsupportedMedia, decode_video

    try:
        with evidence_open(evidence) as handle:
            media = decode_video(handle.read(), max_frames=VIDEO_KEYFRAMES)
    except (DecodeError, UnsupportedMedia, OSError) as exc:
        log.warning("evidence %s: no video keyframes: %s", evidence.pk, exc)
        return None
    frames = [Image.fromarray(frame) for frame in media.frames]
    return evidence_record_video_frames(evidence=evidence, frames=frames)


def evidence_pdq_run(*, evidence_id: int) -> list[EvidenceMatch] | None:
    """Task entry point: hash one evidence item by id (an image, or a video's keyframes);
    gone or neither: nothing."""
    evidence = Evidence.objects.select_related("agency").filter(pk=evidence_id).first()
    if evidence is None:
        return None
    if evidence.media_type.startswith("video/"):
        return evidence_video_keyframes(evidence=evidence)
    return evidence_compute_pdq(evidence=evidence)


# ----------------------------------------------------------------------------- matching


def _stored_hashes(fingerprint: PdqFingerprint) -> list[str]:
    raw = bytes(fingerprint.hashes)
    return [hash_to_hex(raw[i : i + HASH_BYTES]) for i in range(0, len(raw), HASH_BYTES)]


def _queries_for(evidence: Evidence, fingerprint: PdqFingerprint) -> list[str]:
    """What to ask the index with when the caller has no fresh analysis: the full query set
    (mirrors, crops) for a readable image, else the stored hashes."""
    if fingerprint.source == FingerprintSource.IMAGE:
        try:
            with evidence_open(evidence) as handle:
                return pdq_analyse(handle).queries
        except (HashError, OSError) as exc:
            log.warning("evidence %s: querying with stored hashes only: %s", evidence.pk, exc)
    return _stored_hashes(fingerprint)


def matching_find(
    *, evidence: Evidence, queries: Sequence[str] | None = None, max_distance: int = MATCH_DISTANCE
) -> list[tuple[int, int]]:
    """[(evidence id, distance)] of the agency's other items within max_distance of this
    one, nearest first. Empty for items without a fingerprint or of low PDQ quality (PDQ's
    authors: such hashes match too much to be trusted)."""
    fingerprint = PdqFingerprint.objects.filter(evidence=evidence).first()
    if fingerprint is None or fingerprint.quality < LOW_QUALITY:
        return []
    if queries is None:
        queries = _queries_for(evidence, fingerprint)
    index = matching_index_for(agency_id=evidence.agency_id)
    return [
        (item_id, distance)
        for item_id, distance in index.query_many(queries, max_distance)
        if item_id != evidence.pk
    ]


def _findings_of(items: Iterable[Evidence]) -> dict[int, list[Finding]]:
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


def _link_reference_artists(*, evidence: Evidence) -> dict[int, list[int]]:
    """For every recorded match of this item where one side is reference media and the other
    belongs to a finding, add the reference's artists to that finding (with an audit event
    naming the evidence). Returns {finding id: artist ids added}; idempotent."""
    pairs = list(
        EvidenceMatch.objects.filter(agency_id=evidence.agency_id)
        .filter(Q(evidence=evidence) | Q(matched_evidence=evidence))
        .values_list("evidence_id", "matched_evidence_id", "distance")
    )
    if not pairs:
        return {}
    item_ids = {i for pair in pairs for i in pair[:2]}
    references: dict[int, list[ReferenceMedia]] = defaultdict(list)
    for reference in ReferenceMedia.objects.filter(
        agency_id=evidence.agency_id, evidence_id__in=item_ids
    ).select_related("artist"):
        references[reference.evidence_id].append(reference)
    if not references:
        return {}
    items = Evidence.objects.filter(agency_id=evidence.agency_id, pk__in=item_ids).select_related(
        "finding", "capture__finding"
    )
    findings = _findings_of(items)
    # (finding, the matching item of that finding) -> artists, reference ids, distance
    wanted: dict[tuple[int, int], tuple[set[int], set[int], int]] = {}
    for newer, older, distance in pairs:
        for source, target in ((newer, older), (older, newer)):
            for reference in references.get(source, ()):
                for finding in findings.get(target, ()):
                    artists, refs, _d = wanted.setdefault(
                        (finding.pk, target), (set(), set(), distance)
                    )
                    artists.add(reference.artist_id)
                    refs.add(reference.pk)
    added: dict[int, list[int]] = {}
    with transaction.atomic():
        for (finding_pk, item_id), (artists, refs, distance) in sorted(wanted.items()):
            finding = (
                Finding.objects.select_for_update().select_related("agency").get(pk=finding_pk)
            )
            new = sorted(artists - set(finding.artists.values_list("pk", flat=True)))
            if not new:
                continue
            finding.artists.add(*new)
            added.setdefault(finding_pk, []).extend(new)
            audit_record(
                agency=finding.agency,
                actor=None,
                action="finding.artists_linked",
                obj=finding,
                data={
                    "added": new,
                    "evidence": item_id,
                    "reference_media": sorted(refs),
                    "distance": distance,
                },
            )
    return added


def matching_link_new_evidence(
    *, evidence: Evidence, queries: Sequence[str] | None = None
) -> list[EvidenceMatch]:
    """Find the item's matches among its agency's evidence and reference media, record the
    new ones (one EvidenceMatch per pair, audit "evidence.matched"), and link artists from
    reference matches to findings. Returns the newly recorded matches."""
    found = matching_find(evidence=evidence, queries=queries)
    created: list[EvidenceMatch] = []
    if found:
        # The index is the agency's own, but the rows are checked again: a cached index must
        # never be able to link two agencies.
        same_agency = set(
            Evidence.objects.filter(
                agency_id=evidence.agency_id, pk__in=[item_id for item_id, _d in found]
            ).values_list("pk", flat=True)
        )
        with transaction.atomic():
            for item_id, distance in found:
                if item_id not in same_agency:
                    continue
                newer, older = max(item_id, evidence.pk), min(item_id, evidence.pk)
                match, was_created = EvidenceMatch.objects.get_or_create(
                    evidence_id=newer,
                    matched_evidence_id=older,
                    defaults={"agency_id": evidence.agency_id, "distance": distance},
                )
                if was_created:
                    created.append(match)
                elif distance < match.distance:
                    match.distance = distance
                    match.save(update_fields=["distance"])
            if created:
                _record_matched(evidence, created)
    _link_reference_artists(evidence=evidence)
    return created


def _record_matched(evidence: Evidence, created: list[EvidenceMatch]) -> None:
    others = [
        m.matched_evidence_id if m.evidence_id == evidence.pk else m.evidence_id for m in created
    ]
    items = Evidence.objects.filter(pk__in=others).select_related("finding", "capture__finding")
    findings = _findings_of(items)
    reference_ids: dict[int, list[int]] = defaultdict(list)
    for ref_id, item_id in ReferenceMedia.objects.filter(evidence_id__in=others).values_list(
        "pk", "evidence_id"
    ):
        reference_ids[item_id].append(ref_id)
    entries = [
        {
            "evidence": other,
            "distance": match.distance,
            "findings": [f.pk for f in findings.get(other, [])],
            "reference_media": reference_ids.get(other, []),
        }
        for match, other in zip(created, others, strict=True)
    ]
    audit_record(
        agency=evidence.agency,
        actor=None,
        action="evidence.matched",
        obj=evidence,
        data={"pdq_hash": evidence.pdq_hash, "matches": entries},
    )


# ---------------------------------------------------------------------------------- reads


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
        .values_list("evidence_id", "matched_evidence_id", "distance")
    )
    best: dict[int, tuple[int, int]] = {}
    for newer, older, distance in pairs:
        for mine, other in ((newer, older), (older, newer)):
            if (
                mine in own_ids
                and other not in own_ids
                and (other not in best or distance < best[other][0])
            ):
                best[other] = (distance, mine)
    if not best:
        return []
    items = {
        item.pk: item
        for item in Evidence.objects.filter(agency_id=agency_id, pk__in=list(best)).select_related(
            "finding", "capture__finding"
        )
    }
    findings = _findings_of(items.values())
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
    for other, (distance, mine) in best.items():
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


__all__ = [
    "FindingMatches",
    "Match",
    "evidence_compute_pdq",
    "evidence_matches_for",
    "evidence_pdq_run",
    "evidence_record_video_frames",
    "finding_matches",
    "matching_find",
    "matching_link_new_evidence",
]
