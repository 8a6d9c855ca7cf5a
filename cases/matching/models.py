"""Re-upload matching: the agency's official reference media, the PDQ hashes the matcher keeps
for each evidence item, and the matches it found (see cases.matching.pdq, cases.matching.services)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.agency.models import Artist
from cases.evidence.models import Evidence
from cases.kernel.models import Agency


class ReferenceMedia(models.Model):
    """An official photo or video of an artist (a concept photo, a frame of the official MV),
    registered by an admin so that a re-upload identifies the artist and the source work: what
    a DMCA notice needs. The file itself is Evidence of kind "reference" (hashed at
    collection, write-once); one file may show several artists (one row each)."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="reference_media")
    artist = models.ForeignKey(Artist, on_delete=models.PROTECT, related_name="reference_media")
    evidence = models.ForeignKey(Evidence, on_delete=models.PROTECT, related_name="reference_media")
    title = models.CharField(
        _("official work"),
        max_length=300,
        help_text=_("The work as a notice would name it, e.g. Official MV 'Starlight' (2024)."),
    )
    source_url = models.URLField(_("official source URL"), max_length=2000, blank=True)
    published_on = models.DateField(_("published on"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "reference media"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["evidence", "artist"], name="reference_media_unique_file_per_artist"
            )
        ]
        indexes = [
            models.Index(fields=["agency", "artist", "-created_at"], name="reference_agency_artist")
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("reference_media_list", args=[self.artist_id])


class FingerprintSource(models.TextChoices):
    IMAGE = "image", _("Image")
    VIDEO = "video", _("Video keyframes")


class PdqFingerprint(models.Model):
    """The PDQ hashes the matcher keeps for one evidence item, as packed 32-byte hashes:
    for an image the whole picture first, then its standard crops (cases.matching.pdq.
    images.STORED_CROPS), then the picture without its borders and caption bars when it has any;
    for a video one or two hashes (whole, without borders) per distinct keyframe. One row per item, so an
    agency's index is built from one row per item. Derived data: it may be recomputed
    (replaced by a new row), never edited in place, so the newest id keys the index cache."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    evidence = models.OneToOneField(
        Evidence, on_delete=models.PROTECT, related_name="pdq_fingerprint"
    )
    source = models.CharField(max_length=5, choices=FingerprintSource.choices)
    hashes = models.BinaryField()
    count = models.PositiveIntegerField()
    # Quality of the whole picture (image) or of the best keyframe (video). Below
    # cases.matching.pdq.hashes.LOW_QUALITY the item is kept out of automatic matching.
    quality = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(count__gt=0), name="pdq_fingerprint_not_empty"
            ),
            models.CheckConstraint(
                condition=models.Q(quality__lte=100), name="pdq_quality_at_most_100"
            ),
        ]
        indexes = [models.Index(fields=["agency", "quality"], name="pdq_fingerprint_agency")]

    def __str__(self) -> str:
        return f"PDQ fingerprint of evidence {self.evidence_id} ({self.count} hashes)"


class VpdqFingerprint(models.Model):
    """The vPDQ hash of one video evidence item (Meta's video PDQ: one PDQ hash per second
    of video; cases.matching.pdq.video): `features` as [[frame number, 64 hex digits,
    quality 0-100, seconds], ...] in time order, and `hashes`, the packed 32-byte hashes that
    matching compares (frames of quality 50 or more, one per distinct hash). Two videos that
    both have one are matched frame-set to frame-set, never by single frames. Derived data:
    replaced when recomputed, never edited in place."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    evidence = models.OneToOneField(
        Evidence, on_delete=models.PROTECT, related_name="vpdq_fingerprint"
    )
    features = models.JSONField(default=list)
    frame_count = models.PositiveIntegerField()
    hashes = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["agency"], name="vpdq_fingerprint_agency")]

    def __str__(self) -> str:
        return f"vPDQ fingerprint of evidence {self.evidence_id} ({self.frame_count} frames)"


class MatchMethod(models.TextChoices):
    PDQ = "pdq", _("PDQ")
    VPDQ = "vpdq", _("vPDQ")


class EvidenceMatch(models.Model):
    """Two evidence items of one agency whose PDQ hashes are within the match distance: a
    re-upload of known material. Stored once per pair, the newer item (higher id) first.
    Two videos with vPDQ hashes match frame-set to frame-set (method "vpdq"): then the row
    keeps the share of each side's frames found in the other, and `distance` is the
    smallest distance between two of their frames."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    evidence = models.ForeignKey(Evidence, on_delete=models.PROTECT, related_name="matches")
    matched_evidence = models.ForeignKey(
        Evidence, on_delete=models.PROTECT, related_name="matched_by"
    )
    distance = models.PositiveSmallIntegerField(_("Hamming distance"))
    method = models.CharField(max_length=4, choices=MatchMethod.choices, default=MatchMethod.PDQ)
    # vPDQ only: percent of `evidence`'s frames found in `matched_evidence`, and the reverse.
    evidence_frames_percent = models.FloatField(null=True, blank=True)
    matched_frames_percent = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["distance", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["evidence", "matched_evidence"], name="evidence_match_unique_pair"
            ),
            models.CheckConstraint(
                condition=models.Q(method="pdq")
                | models.Q(
                    method="vpdq",
                    evidence_frames_percent__isnull=False,
                    matched_frames_percent__isnull=False,
                ),
                name="evidence_match_vpdq_has_percents",
            ),
            models.CheckConstraint(
                condition=models.Q(evidence__gt=models.F("matched_evidence")),
                name="evidence_match_newer_first",
            ),
            models.CheckConstraint(
                condition=models.Q(distance__lte=256), name="evidence_match_distance_in_range"
            ),
        ]
        indexes = [models.Index(fields=["agency", "matched_evidence"], name="evidence_match_older")]

    def __str__(self) -> str:
        return f"evidence {self.evidence_id} ~ {self.matched_evidence_id} ({self.distance})"


# --------------------------------------------------------------- the cross-agency exchange
# docs/exchange.md describes the feed; cases.matching.services.bank and .exchange write these.

BANK_LABELS = ("deepfake", "sexual", "defamatory")


class BankSignal(models.Model):
    """One confirmed fake of the agency as its bank knows it: the media's hashes (never the
    media, names or URLs), whether a person's latest verdict confirms it, and whether it is
    published (confirmed and every artist of its findings consents). `seq` is the agency's
    change sequence: it moves on whenever what partners see of this signal changes (published,
    changed, withdrawn), so the feed lists each change once, in order. Never published: no seq."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    evidence = models.OneToOneField(Evidence, on_delete=models.PROTECT, related_name="+")
    confirmed = models.BooleanField(default=False)
    published = models.BooleanField(default=False)
    labels = models.JSONField(default=list)
    pdq = models.JSONField(default=list)  # hex PDQ hashes (image; a video's keyframes)
    # A video's vPDQ frames as threatexchange's VpdqCompactFeature strings (docs/exchange.md).
    vpdq = models.JSONField(default=list)
    md5 = models.CharField(max_length=32, blank=True)
    seq = models.PositiveBigIntegerField(null=True, blank=True)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency", "seq"], name="bank_signal_unique_seq")
        ]
        indexes = [models.Index(fields=["agency", "seq"], name="bank_signal_feed")]

    def __str__(self) -> str:
        return f"bank signal of evidence {self.evidence_id} (seq {self.seq})"


class ExchangePartner(models.Model):
    """Another agency allowed to read this agency's bank: its API key (kept as a SHA-256
    digest; shown once) and the shared key every feed page is signed with (HMAC-SHA256)."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("partner"), max_length=120)
    key_prefix = models.CharField(max_length=12, unique=True)  # 12 hex digits
    key_digest = models.CharField(max_length=64)
    signing_key = models.CharField(max_length=64)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_served_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class TrustLevel(models.TextChoices):
    """How far the agency trusts a partner's verdicts; shown with every match of its
    signals. A low-trust partner's match is never a strong match of a watched source (it asks
    for no capture: cases.matching.services.media_recognise)."""

    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")


class ExchangeSubscription(models.Model):
    """A partner's bank this agency reads: the feed URL, the API key and shared signing key
    the partner issued, how far it has read (`cursor`, the partner's change sequence) and
    the state of the last fetch."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("partner"), max_length=120)
    feed_url = models.URLField(_("feed URL"), max_length=2000)
    api_key = models.CharField(_("API key"), max_length=200)
    signing_key = models.CharField(_("signing key"), max_length=200)
    trust = models.CharField(
        _("trust level"), max_length=8, choices=TrustLevel.choices, default=TrustLevel.MEDIUM
    )
    active = models.BooleanField(_("active"), default=True)
    cursor = models.PositiveBigIntegerField(default=0)
    last_fetch_at = models.DateTimeField(null=True, blank=True)
    last_ok_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=1000, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return self.name


class PartnerSignal(models.Model):
    """A signal read from a subscribed partner's bank, as its latest page says it is; a
    delete entry removes the row (and so the signal from the matching index)."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    subscription = models.ForeignKey(
        ExchangeSubscription, on_delete=models.CASCADE, related_name="signals"
    )
    signal_id = models.CharField(max_length=64)
    pdq = models.JSONField(default=list)
    vpdq = models.JSONField(default=list)  # VpdqCompactFeature strings, as the feed sent them
    sha256 = models.CharField(max_length=64)
    md5 = models.CharField(max_length=32, blank=True)
    labels = models.JSONField(default=list)
    seq = models.PositiveBigIntegerField()
    fetched_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["subscription", "signal_id"], name="partner_signal_unique_id"
            )
        ]
        indexes = [
            models.Index(fields=["agency", "sha256"], name="partner_signal_sha256"),
            models.Index(fields=["agency", "md5"], name="partner_signal_md5"),
        ]

    def __str__(self) -> str:
        return f"partner signal {self.signal_id[:12]} of {self.subscription_id}"


class PartnerMatchKind(models.TextChoices):
    PDQ = "pdq", _("PDQ")
    SHA256 = "sha256", _("SHA-256")
    MD5 = "md5", _("MD5")
    VPDQ = "vpdq", _("vPDQ")


def match_how(
    kind: str,
    distance: int,
    ours_percent: float | None = None,
    theirs_percent: float | None = None,
) -> str:
    """How a media file matched, as reasons and audit events say it: "vPDQ 100% / 85%" (our
    frames found in the other video / its frames in ours), "PDQ distance 4", "same md5"."""
    if kind == PartnerMatchKind.VPDQ:
        return f"vPDQ {_percent_label(ours_percent)} / {_percent_label(theirs_percent)}"
    if kind == PartnerMatchKind.PDQ:
        return f"PDQ distance {distance}"
    return f"same {kind}"


def _percent_label(value: float | None) -> str:
    return f"{value:.0f}%" if value is not None else ""


class PartnerMatch(models.Model):
    """An evidence item of this agency that matched a partner's signal: which partner, which
    signal, how (PDQ at a distance, the same SHA-256 or MD5, or a video's vPDQ frame set) and
    with what labels. A vPDQ match keeps the share of each side's frames found in the other
    (HMA's rule: 80% of either side), `distance` the smallest distance between two frames.
    Kept when the partner later withdraws the signal: it records what was known then."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    evidence = models.ForeignKey(Evidence, on_delete=models.PROTECT, related_name="+")
    subscription = models.ForeignKey(
        ExchangeSubscription, on_delete=models.CASCADE, related_name="matches"
    )
    signal_id = models.CharField(max_length=64)
    kind = models.CharField(max_length=6, choices=PartnerMatchKind.choices)
    distance = models.PositiveSmallIntegerField(_("Hamming distance"))
    evidence_frames_percent = models.FloatField(null=True, blank=True)
    signal_frames_percent = models.FloatField(null=True, blank=True)
    labels = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["distance", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["evidence", "subscription", "signal_id"], name="partner_match_unique"
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="vpdq")
                | models.Q(
                    evidence_frames_percent__isnull=False, signal_frames_percent__isnull=False
                ),
                name="partner_match_vpdq_has_percents",
            ),
        ]

    def __str__(self) -> str:
        return f"evidence {self.evidence_id} ~ partner signal {self.signal_id[:12]}"

    @property
    def evidence_frames_percent_label(self) -> str:
        return _percent_label(self.evidence_frames_percent)

    @property
    def signal_frames_percent_label(self) -> str:
        return _percent_label(self.signal_frames_percent)

    @property
    def how(self) -> str:
        """How it matched, as reasons and audit events say it (match_how)."""
        return match_how(
            self.kind, self.distance, self.evidence_frames_percent, self.signal_frames_percent
        )
