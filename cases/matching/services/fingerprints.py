"""PDQ fingerprints of evidence: hashing after ingest, then matching.

Flow for a new image evidence item (cases.matching.tasks.evidence_pdq_task, queued after the
ingest commits):
1. evidence_compute_pdq hashes the image once (whole picture + standard crops + the picture
   without letterbox/caption bars for storage, rotations/mirrors of those for querying),
   sets Evidence.pdq_hash/pdq_hash_trimmed/pdq_quality, stores a PdqFingerprint, commits;
2. then matching_link_new_evidence (services.matching) records the item's matches.
Committing the fingerprint before querying matters: of two items hashed at the same time,
whichever queries last sees the other, so no pair is missed.

A video (evidence_video_hash) gets, where the `vpdq` package is installed, its vPDQ frame set
(one PDQ hash per second of video; stored as a VpdqFingerprint, then matched frame-set to
frame-set with the agency's other videos: matching_link_frame_sets), and in every case 8
keyframes hashed as images are, in the image index, so that a still or screenshot finds the
video. Without vpdq, videos match each other by those keyframes alone (logged; docs/matching.md).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO

from django.db import transaction
from PIL import Image

from cases.evidence.models import Evidence, EvidenceKind
from cases.evidence.services.evidence import evidence_open
from cases.matching.models import (
    EvidenceMatch,
    FingerprintSource,
    PdqFingerprint,
    VpdqFingerprint,
)
from cases.matching.pdq.hashes import HashError, hash_to_bytes
from cases.matching.pdq.images import pdq_analyse, pdq_hash_frames
from cases.matching.pdq.video import (
    VpdqError,
    VpdqFrame,
    VpdqUnavailable,
    vpdq_hash_file,
    vpdq_match_set,
)
from cases.matching.services.matching import (
    matching_exchange_after_hashing,
    matching_link_frame_sets,
    matching_link_new_evidence,
)

log = logging.getLogger(__name__)

# Kinds whose pictures are content worth matching. Screenshots are left out on purpose: two
# screenshots of different videos on one platform share most of their pixels (the page
# around the video) and would link unrelated findings.
MATCHED_KINDS = frozenset({EvidenceKind.MEDIA, EvidenceKind.UPLOAD, EvidenceKind.REFERENCE})


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


def _vpdq_frames(evidence: Evidence) -> list[VpdqFrame]:
    """vPDQ reads a file by name: the original is copied to a temporary file first (the
    storage may be S3)."""
    suffix = Path(evidence.original_name).suffix[:12]
    with evidence_open(evidence) as handle, tempfile.NamedTemporaryFile(suffix=suffix) as tmp:
        shutil.copyfileobj(handle, tmp, length=1 << 20)
        tmp.flush()
        return vpdq_hash_file(tmp.name)


def _vpdq_store(*, evidence: Evidence, frames: Sequence[VpdqFrame]) -> VpdqFingerprint:
    """(Re)place the item's vPDQ fingerprint; an identical one is kept as is."""
    features = [frame.as_json() for frame in frames]
    packed = vpdq_match_set(frames).tobytes()
    with transaction.atomic():
        current = VpdqFingerprint.objects.select_for_update().filter(evidence=evidence).first()
        if current is not None and current.features == features and bytes(current.hashes) == packed:
            return current
        if current is not None:
            current.delete()
        return VpdqFingerprint.objects.create(
            agency_id=evidence.agency_id,
            evidence=evidence,
            features=features,
            frame_count=len(features),
            hashes=packed,
        )


def evidence_video_hash(*, evidence: Evidence) -> list[EvidenceMatch] | None:
    """Hash a video evidence item and record its matches: its vPDQ frame set, stored, then
    matched frame-set to frame-set with the agency's other videos; then its keyframes in
    the image index (evidence_video_keyframes). Without the vpdq package, or for a video
    vPDQ cannot read, only the keyframes, and the reason is logged. None when nothing could
    be hashed."""
    if not _is_matched_kind(evidence) or not evidence.media_type.startswith("video/"):
        return None
    try:
        frames = _vpdq_frames(evidence)
    except VpdqUnavailable as exc:
        log.warning(
            "evidence %s: %s; videos are matched by %d keyframes instead (docs/matching.md)",
            evidence.pk,
            exc,
            VIDEO_KEYFRAMES,
        )
        return evidence_video_keyframes(evidence=evidence)
    except (VpdqError, OSError) as exc:
        log.warning("evidence %s: no vPDQ hash, keyframes only: %s", evidence.pk, exc)
        return evidence_video_keyframes(evidence=evidence)
    if not frames:
        log.warning("evidence %s: vPDQ found no frames, keyframes only", evidence.pk)
        return evidence_video_keyframes(evidence=evidence)
    # Stored (committed) before both queries, so that of two videos hashed at once the one
    # that asks last sees the other, and neither is matched by a single shared keyframe.
    _vpdq_store(evidence=evidence, frames=frames)
    created = matching_link_frame_sets(evidence=evidence)
    keyframe_matches = evidence_video_keyframes(evidence=evidence)
    if keyframe_matches is None:
        # No keyframes (unreadable to PyAV): the exchange still sees the frame set.
        matching_exchange_after_hashing(evidence=evidence)
    return created + (keyframe_matches or [])


def evidence_pdq_run(*, evidence_id: int) -> list[EvidenceMatch] | None:
    """Task entry point: hash one evidence item by id (an image, or a video: vPDQ and
    keyframes); gone or neither: nothing."""
    evidence = Evidence.objects.select_related("agency").filter(pk=evidence_id).first()
    if evidence is None:
        return None
    if evidence.media_type.startswith("video/"):
        return evidence_video_hash(evidence=evidence)
    return evidence_compute_pdq(evidence=evidence)
