"""Watched-source items recognised by partners' confirmed fakes: a recogniser for the
monitor's poll (cases.intake.monitor.recognise, registered in cases/wiring.py).

For an item with media, while the agency reads at least one partner bank, each of the first
MAX_MEDIA_PER_ITEM media URLs is fetched under the watched sources' network policy (the
SSRF-safe fetcher, the monitor's ports and caps), hashed (PDQ with its crops and mirrors,
SHA-256, MD5) and looked up among the agency's partner signals. A match is the reason
"partner 'Name' signal 1a2b3c4d5e6f (PDQ distance 4)": the poll records the item as a
finding with it, as it does for an alias. Without partner signals nothing is fetched."""

from __future__ import annotations

import hashlib
import logging

from cases.intake.monitor.parsers import Item
from cases.intake.monitor.recognise import RecogniseContext, Recognition
from cases.intake.services.watched_sources import watched_source_policy
from cases.kernel.net.fetcher import fetch
from cases.matching.models import PartnerMatchKind, PartnerSignal
from cases.matching.pdq.hashes import LOW_QUALITY, MATCH_DISTANCE, HashError
from cases.matching.pdq.images import pdq_analyse
from cases.matching.services.partner_matching import partner_index_for

log = logging.getLogger(__name__)

MAX_MEDIA_PER_ITEM = 4


def _hits(agency_id: int, body: bytes) -> dict[int, tuple[str, int]]:
    """{PartnerSignal id: (kind, distance)} for one media file."""
    hits: dict[int, tuple[str, int]] = {}
    try:
        analysis = pdq_analyse(body)
    except (HashError, OSError, ValueError) as exc:
        log.info("watched-source media not hashed: %s", exc)
    else:
        if analysis.quality >= LOW_QUALITY:
            index = partner_index_for(agency_id=agency_id)
            for signal_pk, distance in index.query_many(analysis.queries, MATCH_DISTANCE):
                hits[signal_pk] = (PartnerMatchKind.PDQ, distance)
    signals = PartnerSignal.objects.filter(agency_id=agency_id, subscription__active=True)
    sha256 = hashlib.sha256(body).hexdigest()
    md5 = hashlib.md5(body, usedforsecurity=False).hexdigest()
    for signal_pk in signals.filter(sha256=sha256).values_list("pk", flat=True):
        hits[signal_pk] = (PartnerMatchKind.SHA256, 0)
    for signal_pk in signals.filter(md5=md5).values_list("pk", flat=True):
        hits.setdefault(signal_pk, (PartnerMatchKind.MD5, 0))
    return hits


def recognise_partner_media(item: Item, context: RecogniseContext) -> list[Recognition]:
    """The item's media that match a subscribed partner's signal, one reason per signal."""
    if not item.media:
        return []
    agency_id = context.agency_id
    if not PartnerSignal.objects.filter(agency_id=agency_id, subscription__active=True).exists():
        return []
    hits: dict[int, tuple[str, int]] = {}
    for url in item.media[:MAX_MEDIA_PER_ITEM]:
        result = fetch(url, watched_source_policy())
        if not result.ok or result.status_code != 200 or result.truncated or not result.body:
            continue
        for signal_pk, (kind, distance) in _hits(agency_id, result.body).items():
            if signal_pk not in hits or distance < hits[signal_pk][1]:
                hits[signal_pk] = (kind, distance)
    found: list[Recognition] = []
    signals = PartnerSignal.objects.filter(agency_id=agency_id, pk__in=list(hits))
    for signal in signals.select_related("subscription").order_by("pk"):
        kind, distance = hits[signal.pk]
        how = f"PDQ distance {distance}" if kind == PartnerMatchKind.PDQ else f"same {kind}"
        found.append(
            Recognition(
                reason=f"partner '{signal.subscription.name}' signal {signal.signal_id[:12]} ({how})"
            )
        )
    return found
