"""Fan screenshots: PDQ-hash each one and link it to the same media sent earlier.

Queued after a fan's screenshot commits (cases.intake.signals.fan_screenshot_stored, connected
in cases/wiring.py). One run:
1. hashes the screenshot as evidence is hashed (pdq_analyse: the whole picture, its
   standard crops and the picture without plain borders for storage; rotations and mirrors
   of those for querying) and commits the hashes;
2. then asks with its queries against the stored hashes of every other hashed fan
   screenshot of the same agency, as evidence matching does, at MATCH_DISTANCE (31 bits,
   the project's threshold);
3. links it to the earliest earlier screenshot that matches (`same_media_as`, with the
   distance), and links any *later* unlinked screenshot that matches it to it (two
   screenshots hashed out of order still end up linked).
A hash of low quality (< LOW_QUALITY: flat or tiny pictures) is kept but never linked.

The index of fan screenshots is a brute-force scan of the agency's hashed fan screenshots
(numpy, 16 lookups per hash pair): fan screenshots are counted in thousands per agency, not
millions. Never another agency's screenshots: every query filters on the agency.

Caveat, shared with captured page screenshots (services.fingerprints.MATCHED_KINDS): two
screenshots of different posts on one platform share the platform's page around the post,
and may land within the threshold. A link is therefore advice for staff ("same media as fan
report #N, distance d"), never a merge: both reports and findings stay as they are."""

from __future__ import annotations

import numpy as np
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.utils import timezone
from numpy.typing import NDArray

from cases.intake.models import FanScreenshot
from cases.kernel.audit.services import audit_record
from cases.kernel.storage import blob_name, blob_open
from cases.matching.pdq.hashes import (
    LOW_QUALITY,
    MATCH_DISTANCE,
    HashError,
    hamming_distances,
    hashes_from_hex,
)
from cases.matching.pdq.images import pdq_analyse


def _hash(shot: FanScreenshot) -> list[str] | None:
    """Hash one screenshot and commit the hashes; returns its query hashes, or None when
    it cannot be hashed."""
    try:
        with blob_open(blob_name(shot.sha256)) as stored:
            analysis = pdq_analyse(stored.read())
    except (HashError, OSError) as exc:
        with transaction.atomic():
            shot.hash_error = str(exc)[:300]
            shot.hashed_at = timezone.now()
            shot.save(update_fields=["hash_error", "hashed_at"])
            audit_record(
                agency=shot.agency,
                actor=AnonymousUser(),
                action="fan_screenshot.unreadable",
                obj=shot,
                data={"report": shot.report_id, "error": shot.hash_error},
            )
        return None
    shot.pdq_hex = analysis.hex
    shot.pdq_quality = analysis.quality
    shot.pdq_stored = analysis.stored
    shot.hashed_at = timezone.now()
    shot.save(update_fields=["pdq_hex", "pdq_quality", "pdq_stored", "hashed_at"])
    return analysis.queries


def _min_distance(queries: NDArray[np.uint8], stored: list[str]) -> int:
    if not stored:
        return 256
    matrix = hashes_from_hex(stored)
    return int(min(hamming_distances(matrix, row).min() for row in queries))


def _matches(shot: FanScreenshot, query_hexes: list[str]) -> list[tuple[FanScreenshot, int]]:
    """Other hashed, good-quality fan screenshots of the agency within the threshold, with
    their distances, oldest first."""
    queries = hashes_from_hex(query_hexes)
    others = (
        FanScreenshot.objects.filter(
            agency_id=shot.agency_id, pdq_quality__gte=LOW_QUALITY, hashed_at__isnull=False
        )
        .exclude(pk=shot.pk)
        .exclude(pdq_hex="")
        .select_related("report")
        .order_by("id")
    )
    found = []
    for other in others.iterator(chunk_size=2000):
        distance = _min_distance(queries, list(other.pdq_stored))
        if distance <= MATCH_DISTANCE:
            found.append((other, distance))
    return found


def _link(shot: FanScreenshot, earlier: FanScreenshot, distance: int) -> None:
    shot.same_media_as, shot.distance = earlier, distance
    shot.save(update_fields=["same_media_as", "distance"])
    audit_record(
        agency=shot.agency,
        actor=AnonymousUser(),
        action="fan_screenshot.same_media",
        obj=shot,
        data={
            "report": shot.report_id,
            "finding": shot.report.finding_id,
            "same_media_as": earlier.pk,
            "earlier_report": earlier.report_id,
            "earlier_finding": earlier.report.finding_id,
            "distance": distance,
        },
    )


def fan_screenshot_match(*, screenshot_id: int) -> FanScreenshot | None:
    """Hash one fan screenshot and link the same media (module docstring). Idempotent: a
    screenshot already hashed is not hashed or linked again."""
    shot = (
        FanScreenshot.objects.select_related("agency", "report")
        .filter(pk=screenshot_id, hashed_at__isnull=True)
        .first()
    )
    if shot is None:
        return None
    queries = _hash(shot)
    if queries is None:
        return shot
    with transaction.atomic():
        if (shot.pdq_quality or 0) < LOW_QUALITY:
            audit_record(
                agency=shot.agency,
                actor=AnonymousUser(),
                action="fan_screenshot.no_match",
                obj=shot,
                data={
                    "report": shot.report_id,
                    "reason": "low_quality",
                    "quality": shot.pdq_quality,
                },
            )
            return shot
        matches = _matches(shot, queries)
        earlier = [(other, d) for other, d in matches if other.pk < shot.pk]
        if earlier:
            _link(shot, *earlier[0])
        for other, distance in matches:
            if other.pk > shot.pk and other.same_media_as_id is None:
                _link(other, shot, distance)
        if not matches:
            audit_record(
                agency=shot.agency,
                actor=AnonymousUser(),
                action="fan_screenshot.no_match",
                obj=shot,
                data={"report": shot.report_id, "reason": "no_match"},
            )
    return shot
