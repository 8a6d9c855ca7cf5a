"""The agency's bank of confirmed fakes, as partners read it (docs/exchange.md).

A signal exists for every evidence item a person's latest verdict confirmed as fake
(`bank_verdict_set`, called by the detection app's review service). It is **published** when
it is confirmed and every artist of the item's findings has consent to share in force
(cases.agency.services.consent); an item without artists is never published. What a partner
sees is the media's hashes (PDQ, SHA-256, MD5) and labels: never the media, names or URLs.

Every change of what partners see (published, content changed, withdrawn) takes the next
number of the agency's change sequence, under the agency's audit-chain lock (taken first by
every bank writer), so numbers are handed out in commit order and a reader's cursor never
skips a change committed later."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.agency.models import Artist, ArtistShareConsent
from cases.evidence.models import Evidence
from cases.evidence.services.evidence import evidence_open
from cases.intake.models import Finding
from cases.kernel.actor import Actor
from cases.kernel.audit.services import audit_chain_lock, audit_record
from cases.kernel.models import Agency
from cases.matching.exchange_format import (
    FORMAT,
    MAX_VPDQ_PER_SIGNAL,
    feed_dumps,
    feed_sign,
)
from cases.matching.models import (
    BANK_LABELS,
    BankSignal,
    ExchangePartner,
    FingerprintSource,
    PdqFingerprint,
    VpdqFingerprint,
)
from cases.matching.pdq.hashes import HASH_BYTES, LOW_QUALITY, hash_to_hex
from cases.matching.pdq.video import VpdqFrame, vpdq_compact, vpdq_publishable
from cases.matching.selectors import findings_of

log = logging.getLogger(__name__)

PAGE_SIZE = 200
MAX_PAGE_SIZE = 1000
# The frame sets on one page stop at about this many bytes (a reader accepts 16 MiB).
PAGE_VPDQ_BYTES = 4 * 1024 * 1024


class BankError(Exception):
    """A bank request that cannot be answered (a bad cursor or limit, unknown labels)."""


def _md5_of(evidence: Evidence) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with evidence_open(evidence) as handle:
            for chunk in iter(lambda: handle.read(1024 * 1024), b""):
                digest.update(chunk)
    except OSError as exc:
        log.warning("evidence %s: no MD5 for the bank: %s", evidence.pk, exc)
        return ""
    return digest.hexdigest()


def _pdq_of(evidence: Evidence) -> list[str]:
    """The item's PDQ hashes for partners: an image's whole picture (and without borders),
    a video's keyframes; none below LOW_QUALITY. A partner's matcher tries its own crops
    and mirrors."""
    fingerprint = PdqFingerprint.objects.filter(evidence=evidence).first()
    if fingerprint is None or fingerprint.quality < LOW_QUALITY:
        # Too plain to match reliably (PDQ's authors): partners would match too much.
        return []
    if fingerprint.source == FingerprintSource.VIDEO:
        raw = bytes(fingerprint.hashes)
        return [hash_to_hex(raw[i : i + HASH_BYTES]) for i in range(0, len(raw), HASH_BYTES)][:64]
    return [h for h in dict.fromkeys((evidence.pdq_hash, evidence.pdq_hash_trimmed)) if h]


def _vpdq_of(evidence: Evidence) -> list[str]:
    """A video's vPDQ frame set for partners, as python-threatexchange's VpdqCompactFeature
    strings (a VPDQSignal is the JSON list of them): the frames matching compares (quality
    50 or more, one per distinct hash), in time order. None for a video without a frame set,
    or with more than MAX_VPDQ_PER_SIGNAL such frames (its keyframes still go in `pdq`)."""
    fingerprint = VpdqFingerprint.objects.filter(evidence=evidence).only("features").first()
    if fingerprint is None:
        return []
    frames = vpdq_publishable([VpdqFrame.from_json(row) for row in fingerprint.features])
    if len(frames) > MAX_VPDQ_PER_SIGNAL:
        log.warning(
            "evidence %s: %d vPDQ frames, more than a feed entry carries; keyframes only",
            evidence.pk,
            len(frames),
        )
        return []
    return [vpdq_compact(frame) for frame in frames]


def _artist_ids(evidence: Evidence) -> set[int]:
    findings = findings_of([evidence]).get(evidence.pk, [])
    return set(
        Finding.artists.through.objects.filter(finding__in=findings).values_list(
            "artist_id", flat=True
        )
    )


def _consented(artist_ids: set[int]) -> bool:
    if not artist_ids:
        return False
    consenting = ArtistShareConsent.objects.filter(
        artist_id__in=artist_ids, withdrawn_at__isnull=True
    ).count()
    return consenting == len(artist_ids)


def _next_seq(agency_id: int) -> int:
    # Called only under the agency's audit-chain lock (every bank writer takes it first,
    # audit_chain_lock): held until commit, so seq n+1 is handed out only after seq n's
    # transaction ended and a reader never passes an uncommitted change. Taking it before
    # any signal row also keeps one lock order with writers that audit before they reach
    # the bank (a review, a consent change): chain, then signal rows.
    top = BankSignal.objects.filter(agency_id=agency_id).aggregate(top=Max("seq"))["top"]
    return (top or 0) + 1


def _refresh(signal: BankSignal, evidence: Evidence) -> bool:
    """Bring the signal up to date (published state and content); a change partners can
    see takes the next seq. Returns whether it changed. Runs inside a transaction."""
    published = signal.confirmed and _consented(_artist_ids(evidence))
    pdq, vpdq, md5 = signal.pdq, signal.vpdq, signal.md5
    if published:
        pdq, vpdq = _pdq_of(evidence), _vpdq_of(evidence)
        md5 = signal.md5 or _md5_of(evidence)
    visible_change = published != signal.published or (
        published and (pdq != signal.pdq or vpdq != signal.vpdq or md5 != signal.md5)
    )
    if not visible_change:
        return False
    was_ever_seen = signal.seq is not None
    signal.published, signal.pdq, signal.vpdq, signal.md5 = published, pdq, vpdq, md5
    if published or was_ever_seen:
        signal.seq = _next_seq(signal.agency_id)
    signal.changed_at = timezone.now()
    signal.save()
    return True


def bank_verdict_set(*, evidence: Evidence, confirmed: bool, actor: Actor) -> BankSignal | None:
    """A person's verdict on the item changed (detection's review service): confirmed fakes
    enter the bank (published if consent allows); a reversed verdict withdraws the signal
    (a delete entry in the feed). None when the item was never confirmed."""
    with transaction.atomic():
        audit_chain_lock(agency_id=evidence.agency_id)
        signal = BankSignal.objects.select_for_update().filter(evidence=evidence).first()
        if signal is None:
            if not confirmed:
                return None
            signal = BankSignal(agency_id=evidence.agency_id, evidence=evidence)
        signal.confirmed = confirmed
        if signal.pk is None:
            signal.save()
        else:
            signal.save(update_fields=["confirmed"])
        if _refresh(signal, evidence):
            audit_record(
                agency=evidence.agency,
                actor=actor,
                action="exchange.bank_published" if signal.published else "exchange.bank_withdrawn",
                obj=evidence,
                data={"seq": signal.seq, "reason": "verdict", "confirmed": confirmed},
            )
    return signal


def bank_evidence_refresh(*, evidence: Evidence) -> None:
    """The item's hashes or findings changed (PDQ computed after the verdict): refresh its
    signal if it has one."""
    if not BankSignal.objects.filter(evidence=evidence).exists():
        return
    with transaction.atomic():
        audit_chain_lock(agency_id=evidence.agency_id)
        signal = BankSignal.objects.select_for_update().filter(evidence=evidence).first()
        if signal is not None and _refresh(signal, evidence):
            audit_record(
                agency=evidence.agency,
                actor=None,
                action="exchange.bank_published" if signal.published else "exchange.bank_withdrawn",
                obj=evidence,
                data={"seq": signal.seq, "reason": "hashes"},
            )


def bank_artist_refresh(*, artist: Artist) -> list[int]:
    """The artist's consent changed: publish or withdraw the signals of the items of their
    findings. Returns the evidence ids whose signal changed (one audit event for them)."""
    findings = Finding.objects.filter(agency_id=artist.agency_id, artists=artist)
    with transaction.atomic():
        audit_chain_lock(agency_id=artist.agency_id)
        changed = _refresh_items_of(agency_id=artist.agency_id, findings=findings)
        if changed:
            audit_record(
                agency=artist.agency,
                actor=None,
                action="exchange.bank_consent_applied",
                obj=artist,
                data={"evidence": changed},
            )
    return changed


def _refresh_items_of(*, agency_id: int, findings: QuerySet[Finding]) -> list[int]:
    """Refresh the bank signals of the findings' evidence (direct or through a capture);
    the evidence ids whose signal changed."""
    items = (
        Evidence.objects.filter(agency_id=agency_id)
        .filter(Q(finding__in=findings) | Q(capture__finding__in=findings))
        .filter(pk__in=BankSignal.objects.filter(agency_id=agency_id).values("evidence_id"))
        .select_related("finding", "capture__finding")
        .distinct()
        .order_by("pk")
    )
    changed: list[int] = []
    for evidence in items:
        signal = BankSignal.objects.select_for_update().get(evidence=evidence)
        if _refresh(signal, evidence):
            changed.append(evidence.pk)
    return changed


def bank_finding_refresh(*, finding_ids: Iterable[int]) -> list[int]:
    """The artists of these findings changed (edited, linked by matching): an artist without
    consent now on a published item withdraws it; the last such artist gone publishes it."""
    ids = list(finding_ids)
    if not ids or not BankSignal.objects.exists():
        return []
    changed: list[int] = []
    with transaction.atomic():
        for agency_id in sorted(
            set(Finding.objects.filter(pk__in=ids).values_list("agency_id", flat=True))
        ):
            audit_chain_lock(agency_id=agency_id)
            findings = Finding.objects.filter(agency_id=agency_id, pk__in=ids)
            done = _refresh_items_of(agency_id=agency_id, findings=findings)
            if done:
                audit_record(
                    agency=Agency.objects.get(pk=agency_id),
                    actor=None,
                    action="exchange.bank_artists_applied",
                    obj=None,
                    data={"findings": sorted(ids), "evidence": done},
                )
            changed += done
    return changed


def bank_labels_set(*, evidence: Evidence, labels: Iterable[str], actor: Actor) -> BankSignal:
    """Add "sexual" or "defamatory" to a confirmed fake's labels ("deepfake" is always there)."""
    chosen = sorted(set(labels) - {"deepfake"}, key=BANK_LABELS.index)
    if any(label not in BANK_LABELS for label in chosen):
        raise BankError(_("Unknown label."))
    with transaction.atomic():
        audit_chain_lock(agency_id=evidence.agency_id)
        signal = BankSignal.objects.select_for_update().filter(evidence=evidence).first()
        if signal is None or not signal.confirmed:
            raise BankError(_("Only a confirmed fake has labels in the bank."))
        if signal.labels == chosen:
            return signal
        signal.labels = chosen
        if signal.published:
            signal.seq = _next_seq(signal.agency_id)
        signal.save()
        audit_record(
            agency=evidence.agency,
            actor=actor,
            action="exchange.bank_labels_set",
            obj=evidence,
            data={"labels": chosen, "seq": signal.seq},
        )
    return signal


@dataclass(frozen=True)
class BankStatus:
    """What the evidence page says of an item's place in the exchange bank, each part taken
    from the records: the signal (None: never confirmed), and for a confirmed item that is not
    published, why (its findings name no artist, or these artists have no consent in force)."""

    signal: BankSignal | None
    without_consent: tuple[Artist, ...] = ()
    no_artists: bool = False

    @property
    def confirmed(self) -> bool:
        return self.signal is not None and self.signal.confirmed

    @property
    def published(self) -> bool:
        return self.signal is not None and self.signal.published

    @property
    def labels(self) -> list[str]:
        return ["deepfake", *self.signal.labels] if self.signal is not None else []


def bank_status_of(*, evidence: Evidence) -> BankStatus:
    """The item's bank state as stored, with the reason a confirmed item is withheld."""
    signal = BankSignal.objects.filter(evidence=evidence).first()
    if signal is None or not signal.confirmed or signal.published:
        return BankStatus(signal=signal)
    artist_ids = _artist_ids(evidence)
    consenting = set(
        ArtistShareConsent.objects.filter(
            artist_id__in=artist_ids, withdrawn_at__isnull=True
        ).values_list("artist_id", flat=True)
    )
    missing = Artist.objects.filter(pk__in=artist_ids - consenting).order_by("stage_name", "pk")
    return BankStatus(signal=signal, without_consent=tuple(missing), no_artists=not artist_ids)


def _entry(signal: BankSignal, sha256: str) -> dict[str, object]:
    if not signal.published:
        return {"id": sha256, "seq": signal.seq, "op": "delete"}
    return {
        "id": sha256,
        "seq": signal.seq,
        "op": "add",
        "sha256": sha256,
        "md5": signal.md5,
        "pdq": list(signal.pdq),
        "vpdq": list(signal.vpdq),
        "labels": ["deepfake", *signal.labels],
    }


def bank_page(
    *, partner: ExchangePartner, cursor: int, limit: int = PAGE_SIZE, now: datetime | None = None
) -> tuple[bytes, str]:
    """One page of the partner's view of the bank after `cursor`: (the exact bytes to serve,
    their signature with the partner's signing key). Audited as "exchange.page_served"."""
    if cursor < 0 or not 1 <= limit <= MAX_PAGE_SIZE:
        raise BankError(_("The cursor must be 0 or more and the limit 1 to 1000."))
    rows = list(
        BankSignal.objects.filter(agency_id=partner.agency_id, seq__gt=cursor)
        .order_by("seq")
        .values_list("seq", "published", "labels", "pdq", "vpdq", "md5", "evidence__sha256")[
            : limit + 1
        ]
    )
    has_more = len(rows) > limit
    signals: list[dict[str, object]] = []
    size = 0
    for seq, pub, labels, pdq, vpdq, md5, sha256 in rows[:limit]:
        entry = _entry(
            BankSignal(seq=seq, published=pub, labels=labels, pdq=pdq, vpdq=vpdq, md5=md5), sha256
        )
        size += len(feed_dumps(entry)) if vpdq else 0
        if signals and size > PAGE_VPDQ_BYTES:
            # Long frame sets: a shorter page (never empty), so that a page stays well
            # under what a reader accepts; the rest comes with the next cursor.
            has_more = True
            break
        signals.append(entry)
    next_cursor = signals[-1]["seq"] if signals else cursor
    body = feed_dumps(
        {
            "format": FORMAT,
            "cursor": cursor,
            "next_cursor": next_cursor,
            "has_more": has_more,
            "signals": signals,
        }
    )
    signature = feed_sign(partner.signing_key, body)
    with transaction.atomic():
        ExchangePartner.objects.filter(pk=partner.pk).update(last_served_at=now or timezone.now())
        audit_record(
            agency=partner.agency,
            actor=None,
            action="exchange.page_served",
            obj=partner,
            data={
                "partner": partner.name,
                "cursor": cursor,
                "next_cursor": next_cursor,
                "entries": len(signals),
                "sha256": hashlib.sha256(body).hexdigest(),
            },
        )
    return body, signature
