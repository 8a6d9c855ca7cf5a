"""Watched-source items recognised by their media: a recogniser for the monitor's poll
(cases.intake.monitor.recognise, registered in cases/wiring.py).

For an item with media, while the agency has something to match them against (reference
media or confirmed fakes of its own, or the signals of a partner bank it reads), each of the
first MAX_MEDIA_PER_ITEM media URLs is fetched once under the watched sources' network
policy (the SSRF-safe fetcher, the monitor's ports and caps), hashed once (PDQ with its crops
and mirrors, SHA-256, MD5), and looked up in both places:

- the agency's own index (services.index: the fingerprints of its evidence). A hit is a
  reason only when the item it hit is reference media, "PDQ distance 12 to reference #31"
  (carrying the reference's artist), or a confirmed fake of the agency's bank (a person's
  latest verdict; services.bank), "PDQ distance 4 to confirmed fake evidence #123 (finding
  #45)" (carrying the artists of its findings). The same SHA-256 as such an item reads
  "same sha256 as reference #31". Other evidence (not confirmed) is no reason.
- the partner signals (services.partner_matching): "partner 'Name' signal 1a2b3c4d5e6f
  (PDQ distance 4)", or "(same sha256)" / "(same md5)". A partner subscribed at the low
  trust level is never strong (below): its matches are recorded and shown, not acted on.

A body whose bytes are a video (cases.evidence.uploads.sniff, as evidence decides its
media_type; never the URL or the server's Content-Type) is not hashed as a picture: it is
written to a temporary file (removed after, also on error), vPDQ-hashed (pdq.video) and its
match set compared frame-set to frame-set, by HMA's rule, with the agency's own frame index
(services.index.matching_frame_index_for: its videos' vPDQ frame sets; the same reference /
confirmed-fake filter) and the partner frame index (partner_frame_index_for): "vPDQ 100% /
85% to reference #31", "partner 'Name' signal 1a2b3c4d5e6f (vPDQ 100% / 85%)": the share of
the discovered video's frames found in the other, then the other's found in it. Its exact
hashes are looked up as for a picture. Without the vpdq package (or for a video vPDQ
cannot read) the video is matched by its exact hashes only, logged.

A picture whose PDQ quality is below LOW_QUALITY is never looked up by PDQ (PDQ's authors:
such hashes match too much); its exact hashes still are. A match at a PDQ distance of at
most settings.MONITOR_STRONG_DISTANCE, a vPDQ match with both shares at least
settings.MONITOR_STRONG_VPDQ_PERCENT (80: a whole copy, not a clip of a longer video or the
video a clip is cut from), or one by an exact hash, is strong (Recognition.strong): a source with
`capture_strong_matches` asks for a capture of the new finding. Without anything to match,
nothing is fetched."""

from __future__ import annotations

import hashlib
import logging
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from django.conf import settings
from django.db.models import QuerySet

from cases.evidence.models import Evidence
from cases.evidence.uploads import sniff
from cases.intake.models import Finding
from cases.intake.monitor.parsers import Item
from cases.intake.monitor.recognise import RecogniseContext, Recognition
from cases.intake.services.watched_sources import watched_source_policy
from cases.kernel.media import media_suffix
from cases.kernel.net.fetcher import fetch
from cases.matching.models import (
    BankSignal,
    PartnerMatchKind,
    PartnerSignal,
    ReferenceMedia,
    TrustLevel,
    match_how,
)
from cases.matching.pdq.hashes import LOW_QUALITY, MATCH_DISTANCE, HashError
from cases.matching.pdq.images import pdq_analyse
from cases.matching.pdq.index import PdqIndex
from cases.matching.pdq.video import (
    VpdqError,
    VpdqUnavailable,
    vpdq_hash_file,
    vpdq_match_in_index,
    vpdq_match_set,
)
from cases.matching.selectors import findings_of
from cases.matching.services.index import matching_frame_index_for, matching_index_for
from cases.matching.services.partner_matching import (
    PartnerHit,
    partner_frame_index_for,
    partner_index_for,
)

log = logging.getLogger(__name__)

MAX_MEDIA_PER_ITEM = 4


# How one media file matched (query: the discovered item), as for ingested evidence.
Hit = PartnerHit


def _rank(hit: Hit) -> tuple[int, bool]:
    return hit.distance, hit.frames is not None


@dataclass
class _Hits:
    """The best hit per partner signal and per own evidence item over an item's media."""

    partner: dict[int, Hit] = field(default_factory=dict)
    own: dict[int, Hit] = field(default_factory=dict)

    @staticmethod
    def keep(hits: dict[int, Hit], pk: int, hit: Hit) -> None:
        # The nearer hit; at the same distance an exact one before a vPDQ one.
        if pk not in hits or _rank(hit) < _rank(hits[pk]):
            hits[pk] = hit


def _partner_signals(agency_id: int) -> QuerySet[PartnerSignal]:
    return PartnerSignal.objects.filter(agency_id=agency_id, subscription__active=True)


def _has_own_media(agency_id: int) -> bool:
    return (
        ReferenceMedia.objects.filter(agency_id=agency_id).exists()
        or BankSignal.objects.filter(agency_id=agency_id, confirmed=True).exists()
    )


def _pdq_queries(body: bytes) -> list[str]:
    """The media file's PDQ queries (crops and mirrors); none when it cannot be hashed or
    its quality is below LOW_QUALITY."""
    try:
        analysis = pdq_analyse(body)
    except (HashError, OSError, ValueError) as exc:
        log.info("watched-source media not hashed: %s", exc)
        return []
    return analysis.queries if analysis.quality >= LOW_QUALITY else []


def _is_video(body: bytes) -> str:
    """The body's video media type by its bytes (as evidence decides it), or ""."""
    sniffed = sniff(body[:64])
    return sniffed.media_type if sniffed and sniffed.media_type.startswith("video/") else ""


def _vpdq_query(body: bytes, media_type: str) -> npt.NDArray[np.uint8] | None:
    """The video's vPDQ match set (vPDQ reads a file by name: a temporary file, removed
    after, also on error); None when vpdq is missing or cannot read the video."""
    try:
        with tempfile.NamedTemporaryFile(suffix=media_suffix(media_type)) as tmp:
            tmp.write(body)
            tmp.flush()
            frames = vpdq_hash_file(tmp.name)
    except VpdqUnavailable as exc:
        log.info("watched-source video not vPDQ-hashed, exact hashes only: %s", exc)
        return None
    except (VpdqError, OSError) as exc:
        log.info("watched-source video not vPDQ-hashed: %s", exc)
        return None
    return vpdq_match_set(frames)


def _frame_hits(query: npt.NDArray[np.uint8], index: PdqIndex) -> list[tuple[int, Hit]]:
    if not len(query):
        return []
    return [
        (pk, Hit(PartnerMatchKind.VPDQ, comparison.distance, comparison))
        for pk, comparison in vpdq_match_in_index(query, index)
    ]


def _look_up(agency_id: int, body: bytes, hits: _Hits, *, partner: bool, own: bool) -> None:
    """One media file, hashed once, looked up in the partner signals and the own index: a
    picture by PDQ, a video by vPDQ, either by its exact hashes."""
    video = _is_video(body)
    queries = [] if video else _pdq_queries(body)
    frames = _vpdq_query(body, video) if video else None
    sha256 = hashlib.sha256(body).hexdigest()
    if partner:
        if queries:
            index = partner_index_for(agency_id=agency_id)
            for pk, distance in index.query_many(queries, MATCH_DISTANCE):
                hits.keep(hits.partner, pk, Hit(PartnerMatchKind.PDQ, distance))
        if frames is not None:
            for pk, hit in _frame_hits(frames, partner_frame_index_for(agency_id=agency_id)):
                hits.keep(hits.partner, pk, hit)
        md5 = hashlib.md5(body, usedforsecurity=False).hexdigest()
        signals = _partner_signals(agency_id)
        for pk in signals.filter(md5=md5).values_list("pk", flat=True):
            hits.keep(hits.partner, pk, Hit(PartnerMatchKind.MD5, 0))
        for pk in signals.filter(sha256=sha256).values_list("pk", flat=True):
            hits.partner[pk] = Hit(PartnerMatchKind.SHA256, 0)
    if own:
        if queries:
            for pk, distance in matching_index_for(agency_id=agency_id).query_many(
                queries, MATCH_DISTANCE
            ):
                hits.keep(hits.own, pk, Hit(PartnerMatchKind.PDQ, distance))
        if frames is not None:
            for pk, hit in _frame_hits(frames, matching_frame_index_for(agency_id=agency_id)):
                hits.keep(hits.own, pk, hit)
        same_file = Evidence.objects.filter(agency_id=agency_id, sha256=sha256)
        for pk in same_file.values_list("pk", flat=True):
            hits.own[pk] = Hit(PartnerMatchKind.SHA256, 0)


def _method(hit: Hit) -> str:
    """ "PDQ distance 4", "vPDQ 100% / 85%", "same md5" (match_how, as PartnerMatch.how)."""
    frames = hit.frames
    return match_how(
        hit.kind,
        hit.distance,
        frames.query_percent if frames else None,
        frames.compared_percent if frames else None,
    )


def _how(hit: Hit, target: str) -> str:
    exact = hit.kind in (PartnerMatchKind.SHA256, PartnerMatchKind.MD5)
    return f"{_method(hit)} {'as' if exact else 'to'} {target}"


def _strong(hit: Hit) -> bool:
    if hit.frames is not None:
        shares = (hit.frames.query_percent, hit.frames.compared_percent)
        return min(shares) >= settings.MONITOR_STRONG_VPDQ_PERCENT
    return hit.distance <= settings.MONITOR_STRONG_DISTANCE


def _confirmed_fakes(agency_id: int, ids: list[int]) -> dict[int, tuple[str, list[int | None]]]:
    """{evidence id: (how a reason names it, the artists of its findings or [None])} for
    the items among `ids` that a person's latest verdict confirmed as fake."""
    confirmed = BankSignal.objects.filter(agency_id=agency_id, confirmed=True, evidence_id__in=ids)
    items = Evidence.objects.filter(
        agency_id=agency_id, pk__in=confirmed.values("evidence_id")
    ).select_related("finding", "capture__finding")
    findings = findings_of(items)
    artists: dict[int, set[int]] = defaultdict(set)
    links = Finding.artists.through.objects.filter(
        finding__in=[f.pk for fs in findings.values() for f in fs]
    )
    for finding_id, linked in links.values_list("finding_id", "artist_id"):
        artists[finding_id].add(linked)
    fakes: dict[int, tuple[str, list[int | None]]] = {}
    for pk, of in findings.items():
        target = f"confirmed fake evidence #{pk}"
        if of:
            label = "finding" if len(of) == 1 else "findings"
            target += f" ({label} {', '.join(f'#{f.pk}' for f in of)})"
        artist_ids: list[int | None] = [*sorted({a for f in of for a in artists[f.pk]})]
        fakes[pk] = (target, artist_ids or [None])
    return fakes


def _own_recognitions(agency_id: int, hits: dict[int, Hit]) -> list[Recognition]:
    """Reasons for the hits that are reference media or confirmed fakes, nearest first."""
    if not hits:
        return []
    ordered = sorted(hits, key=lambda pk: (hits[pk][1], pk))
    references: dict[int, list[ReferenceMedia]] = defaultdict(list)
    for reference in ReferenceMedia.objects.filter(
        agency_id=agency_id, evidence_id__in=ordered
    ).order_by("pk"):
        references[reference.evidence_id].append(reference)
    fakes = _confirmed_fakes(agency_id, ordered)
    found: list[Recognition] = []
    for pk in ordered:
        hit = hits[pk]
        for reference in references.get(pk, []):
            found.append(
                Recognition(
                    reason=_how(hit, f"reference #{reference.pk}"),
                    artist_id=reference.artist_id,
                    strong=_strong(hit),
                )
            )
        if pk in fakes:
            target, artist_ids = fakes[pk]
            found.extend(
                Recognition(reason=_how(hit, target), artist_id=artist_id, strong=_strong(hit))
                for artist_id in artist_ids
            )
    return found


def _partner_recognitions(agency_id: int, hits: dict[int, Hit]) -> list[Recognition]:
    found: list[Recognition] = []
    signals = PartnerSignal.objects.filter(agency_id=agency_id, pk__in=list(hits))
    for signal in signals.select_related("subscription").order_by("pk"):
        hit = hits[signal.pk]
        how = _method(hit)
        found.append(
            Recognition(
                reason=f"partner '{signal.subscription.name}' signal {signal.signal_id[:12]} ({how})",
                # A partner the agency trusts little is a lead, never grounds for acting
                # on its own: its matches never ask for a capture.
                strong=_strong(hit) and signal.subscription.trust != TrustLevel.LOW,
            )
        )
    return found


def recognise_media(item: Item, context: RecogniseContext) -> list[Recognition]:
    """The item's media that match the agency's reference media, its confirmed fakes or a
    subscribed partner's signal: one reason per matched reference, fake or signal."""
    if not item.media:
        return []
    agency_id = context.agency_id
    partner = _partner_signals(agency_id).exists()
    own = _has_own_media(agency_id)
    if not partner and not own:
        return []
    hits = _Hits()
    for url in item.media[:MAX_MEDIA_PER_ITEM]:
        result = fetch(url, watched_source_policy())
        if not result.ok or result.status_code != 200 or result.truncated or not result.body:
            continue
        _look_up(agency_id, result.body, hits, partner=partner, own=own)
    return _own_recognitions(agency_id, hits.own) + _partner_recognitions(agency_id, hits.partner)
