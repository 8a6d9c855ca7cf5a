"""Matching evidence: asking the agency's index, recording the matches, and the artist
links that matches with reference media imply (reference media themselves:
services.reference_media; the per-agency index: services.index; the hashes the index
holds: services.fingerprints).

matching_link_new_evidence asks the agency's index, records an EvidenceMatch per matching
item, and, where one side is reference media and the other belongs to a finding, links the
reference's artists to that finding; each step writes its audit event.

Everything is per agency: an agency's index holds only its own fingerprints, and every read
filters by the evidence's agency."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence

from django.db import transaction
from django.db.models import Q

from cases.evidence.models import Evidence
from cases.evidence.services.evidence import evidence_open
from cases.intake.models import Finding
from cases.kernel.audit.services import audit_record
from cases.matching.models import (
    EvidenceMatch,
    FingerprintSource,
    MatchMethod,
    PdqFingerprint,
    ReferenceMedia,
    VpdqFingerprint,
)
from cases.matching.pdq.hashes import (
    HASH_BYTES,
    LOW_QUALITY,
    MATCH_DISTANCE,
    HashError,
    hash_to_hex,
)
from cases.matching.pdq.images import pdq_analyse
from cases.matching.pdq.video import VpdqComparison, vpdq_match_in_index
from cases.matching.selectors import findings_of
from cases.matching.services.bank import bank_evidence_refresh
from cases.matching.services.index import (
    frame_set_of,
    matching_frame_index_for,
    matching_index_for,
)
from cases.matching.services.partner_matching import partner_matches_record

log = logging.getLogger(__name__)


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
    authors: such hashes match too much to be trusted). When this item is a video with a
    vPDQ frame set, other such videos are left out: two frame sets are compared whole
    (matching_link_frame_sets), never by one shared keyframe."""
    fingerprint = PdqFingerprint.objects.filter(evidence=evidence).first()
    if fingerprint is None or fingerprint.quality < LOW_QUALITY:
        return []
    if queries is None:
        queries = _queries_for(evidence, fingerprint)
    index = matching_index_for(agency_id=evidence.agency_id)
    found = [
        (item_id, distance)
        for item_id, distance in index.query_many(queries, max_distance)
        if item_id != evidence.pk
    ]
    if found and VpdqFingerprint.objects.filter(evidence=evidence).exists():
        framed = set(
            VpdqFingerprint.objects.filter(
                agency_id=evidence.agency_id, evidence_id__in=[item_id for item_id, _d in found]
            ).values_list("evidence_id", flat=True)
        )
        found = [(item_id, distance) for item_id, distance in found if item_id not in framed]
    return found


def matching_find_frame_sets(*, evidence: Evidence) -> list[tuple[int, VpdqComparison]]:
    """[(evidence id, comparison)] of the agency's other videos whose vPDQ frame set matches
    this item's by HMA's rule (cases.matching.pdq.video), best first. Empty without a frame
    set of this item."""
    query = frame_set_of(evidence_id=evidence.pk)
    if query is None or not len(query):
        return []
    index = matching_frame_index_for(agency_id=evidence.agency_id)
    return vpdq_match_in_index(query, index, exclude=evidence.pk)


def _of_same_agency(evidence: Evidence, item_ids: list[int]) -> set[int]:
    """The ids among item_ids of evidence in this item's agency. The indexes are the
    agency's own, but the rows are checked again: a cached index must never be able to link
    two agencies."""
    return set(
        Evidence.objects.filter(agency_id=evidence.agency_id, pk__in=item_ids).values_list(
            "pk", flat=True
        )
    )


def matching_link_frame_sets(*, evidence: Evidence) -> list[EvidenceMatch]:
    """vPDQ: record the matches of this video's frame set with its agency's other videos
    (one EvidenceMatch per pair, method "vpdq", with the share of each side's frames found
    in the other), audit "evidence.matched", and link artists from reference media. A pair
    matched earlier by single keyframes becomes a vPDQ match. Returns the new matches."""
    found = matching_find_frame_sets(evidence=evidence)
    created: list[EvidenceMatch] = []
    if found:
        same_agency = _of_same_agency(evidence, [item_id for item_id, _c in found])
        with transaction.atomic():
            for item_id, comparison in found:
                if item_id not in same_agency:
                    continue
                newer, older = max(item_id, evidence.pk), min(item_id, evidence.pk)
                mine, theirs = comparison.query_percent, comparison.compared_percent
                values = {
                    "distance": comparison.distance,
                    "method": MatchMethod.VPDQ,
                    "evidence_frames_percent": mine if newer == evidence.pk else theirs,
                    "matched_frames_percent": theirs if newer == evidence.pk else mine,
                }
                match, was_created = EvidenceMatch.objects.get_or_create(
                    evidence_id=newer,
                    matched_evidence_id=older,
                    defaults={"agency_id": evidence.agency_id, **values},
                )
                if was_created:
                    created.append(match)
                elif any(getattr(match, name) != value for name, value in values.items()):
                    for name, value in values.items():
                        setattr(match, name, value)
                    match.save(update_fields=list(values))
            if created:
                _record_matched(evidence, created)
    _link_reference_artists(evidence=evidence)
    return created


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
    findings = findings_of(items)
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
        same_agency = _of_same_agency(evidence, [item_id for item_id, _d in found])
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
    matching_exchange_after_hashing(evidence=evidence, queries=queries)
    return created


def matching_exchange_after_hashing(
    *, evidence: Evidence, queries: Sequence[str] | None = None
) -> None:
    """The exchange's side of a newly hashed item: match it against partners' signals (the
    same queries, or the stored hashes; a video's vPDQ frame set), and refresh its own bank
    signal's hashes when it is a confirmed fake whose verdict came before its hashes."""
    fingerprint = PdqFingerprint.objects.filter(evidence=evidence).first()
    pdq_queries: Sequence[str] = ()
    if fingerprint is not None and fingerprint.quality >= LOW_QUALITY:
        pdq_queries = queries if queries is not None else _stored_hashes(fingerprint)
    partner_matches_record(evidence=evidence, queries=pdq_queries)
    bank_evidence_refresh(evidence=evidence)


def _record_matched(evidence: Evidence, created: list[EvidenceMatch]) -> None:
    others = [
        m.matched_evidence_id if m.evidence_id == evidence.pk else m.evidence_id for m in created
    ]
    items = Evidence.objects.filter(pk__in=others).select_related("finding", "capture__finding")
    findings = findings_of(items)
    reference_ids: dict[int, list[int]] = defaultdict(list)
    for ref_id, item_id in ReferenceMedia.objects.filter(evidence_id__in=others).values_list(
        "pk", "evidence_id"
    ):
        reference_ids[item_id].append(ref_id)
    entries: list[dict[str, object]] = []
    for match, other in zip(created, others, strict=True):
        entry: dict[str, object] = {
            "evidence": other,
            "distance": match.distance,
            "method": match.method,
            "findings": [f.pk for f in findings.get(other, [])],
            "reference_media": reference_ids.get(other, []),
        }
        if match.method == MatchMethod.VPDQ:
            ours_first = match.evidence_id == evidence.pk
            pair = (match.evidence_frames_percent, match.matched_frames_percent)
            entry["frames_percent"], entry["other_frames_percent"] = (
                pair if ours_first else pair[::-1]
            )
        entries.append(entry)
    audit_record(
        agency=evidence.agency,
        actor=None,
        action="evidence.matched",
        obj=evidence,
        data={"pdq_hash": evidence.pdq_hash, "matches": entries},
    )
