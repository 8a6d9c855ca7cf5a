"""Re-upload matching: the agency's official reference media, the PDQ hashes the matcher keeps
for each evidence item, and the matches it found (see cases.matching.pdq, cases.matching.services)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
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


class EvidenceMatch(models.Model):
    """Two evidence items of one agency whose PDQ hashes are within the match distance: a
    re-upload of known material. Stored once per pair, the newer item (higher id) first."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="+")
    evidence = models.ForeignKey(Evidence, on_delete=models.PROTECT, related_name="matches")
    matched_evidence = models.ForeignKey(
        Evidence, on_delete=models.PROTECT, related_name="matched_by"
    )
    distance = models.PositiveSmallIntegerField(_("Hamming distance"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["distance", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["evidence", "matched_evidence"], name="evidence_match_unique_pair"
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
