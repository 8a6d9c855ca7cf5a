"""Captures (one visit to a finding's URL), Evidence (one immutable file) and its custody log.

Originals are content-addressed and write-once (see cases.kernel.storage): a row names its blob by
SHA-256, the app never overwrites or deletes one, and nothing here has a delete path."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.agency.models import Platform
from cases.evidence.capture.observation import Observation as CaptureObservation
from cases.evidence.capture.observation import reason_label
from cases.intake.models import Finding
from cases.kernel.jobs import Job
from cases.kernel.models import Agency, AppendOnlyModel
from cases.kernel.net.outcome import FetchOutcome


class CaptureStatus(models.TextChoices):
    """The job lifecycle (cases.kernel.jobs.JobStatus) plus "refused": the network policy
    refused the URL, an end status like done. "failed" is either a visit that failed (the
    outcome says why) or a worker that gave up (no outcome)."""

    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")
    REFUSED = "refused", _("Refused")


class Capture(Job):
    """One visit to a finding's URL at a moment, with what the Berkeley Protocol asks to
    record about it: collector, tool, version and settings, the collecting machine's IP,
    UTC times. A re-check is a Capture too, so "gone since D" is itself evidence."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="captures")
    finding = models.ForeignKey(Finding, on_delete=models.PROTECT, related_name="captures")
    status = models.CharField(
        _("status"), max_length=16, choices=CaptureStatus.choices, default=CaptureStatus.QUEUED
    )
    requested_url = models.TextField(_("requested URL"))
    final_url = models.TextField(_("final URL"), blank=True)
    redirect_chain = models.JSONField(_("redirect chain"), default=list, blank=True)
    http_status = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    headers = models.JSONField(_("response headers"), default=dict, blank=True)
    resolved_ip = models.GenericIPAddressField(_("resolved IP"), null=True, blank=True)
    collector_ip = models.GenericIPAddressField(_("collector IP"), null=True, blank=True)
    tool_name = models.CharField(_("tool"), max_length=100, blank=True)
    tool_version = models.CharField(_("tool version"), max_length=100, blank=True)
    tool_settings = models.JSONField(_("tool settings"), default=dict, blank=True)
    # Free-form extras of the capture pipeline (artefact list, browser notes, timings).
    details = models.JSONField(default=dict, blank=True)
    collector = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    is_recheck = models.BooleanField(_("re-check"), default=False)
    outcome = models.CharField(
        _("outcome"), max_length=24, choices=FetchOutcome.choices, blank=True
    )
    # What the visit says about the content (cases.evidence.capture.observation): only "removed"
    # is evidence of a removal; "unreachable" is about the network and says nothing.
    observation = models.CharField(
        _("observation"), max_length=12, choices=CaptureObservation.choices, blank=True
    )
    observation_reason = models.CharField(_("observation reason"), max_length=200, blank=True)
    # When the server answered (or the visit failed): the time the observation is about.
    observed_at = models.DateTimeField(_("observed at"), null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    job_audit_prefix = "capture"
    job_task = "cases.evidence.tasks.capture_run_task"
    job_task_arg = "capture_id"
    job_stale_after_setting = "CAPTURE_STALE_AFTER"
    # Two runs at once both visit; the row lock lets the first record and the second stop.
    job_overlap_safe = True
    job_finished_statuses = (CaptureStatus.DONE, CaptureStatus.FAILED, CaptureStatus.REFUSED)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__lte=100), name="capture_progress_at_most_100"
            )
        ]
        indexes = [
            models.Index(
                fields=["agency", "finding", "-created_at"], name="capture_finding_recent"
            ),
            models.Index(fields=["finding", "-observed_at"], name="capture_finding_observed"),
            # The stale-job sweep (cases.kernel.jobs.job_reap_stale) reads only live jobs.
            models.Index(
                fields=["status", "heartbeat_at"],
                name="capture_job_heartbeat",
                condition=models.Q(status__in=["queued", "running"]),
            ),
        ]

    def __str__(self) -> str:
        return f"Capture #{self.pk} of {self.requested_url} ({self.status})"

    @property
    def observation_reason_label(self) -> str:
        return reason_label(self.observation_reason)

    def job_audit_context(self) -> dict[str, Any]:
        return {"finding": self.finding_id}

    @property
    def is_retryable(self) -> bool:
        """A failed capture whose worker gave up before visiting runs again on its row; a
        visit that failed is a record of that moment and stays (request a new capture)."""
        return self.status == CaptureStatus.FAILED and self.observed_at is None


class EvidenceKind(models.TextChoices):
    SCREENSHOT = "screenshot", _("Screenshot")
    HTML = "html", _("HTML source")
    WARC = "warc", _("WARC record")
    # The WARC packaged as a WACZ (indexes, page list, hashed datapackage) for replay tools.
    WACZ = "wacz", _("Web archive (WACZ)")
    # The document as Chromium rendered it when the screenshot was taken (the HTML as
    # served is HTML; scripts may have changed the page since).
    DOM = "dom", _("Rendered DOM snapshot")
    HEADERS = "headers", _("HTTP headers")
    MEDIA = "media", _("Embedded media")
    UPLOAD = "upload", _("Uploaded file")
    REFERENCE = "reference", _("Reference media")


# Fields fixed at collection: what the hash and the blob prove must never change afterwards.
IMMUTABLE_EVIDENCE_FIELDS = ("agency_id", "sha256", "size", "storage_name", "collected_at")


class Evidence(models.Model):
    """One immutable file, captured or uploaded, content-addressed by SHA-256.

    The same bytes are one Evidence per agency (the constraint below); the blob itself is
    stored once for everyone under evidence/sha256/ab/cd/<sha256>. Derived data (PDQ hash,
    dimensions, the blurred preview) is kept apart from the original and may be recomputed."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="evidence")
    finding = models.ForeignKey(
        Finding, on_delete=models.PROTECT, null=True, blank=True, related_name="evidence"
    )
    capture = models.ForeignKey(
        Capture, on_delete=models.PROTECT, null=True, blank=True, related_name="evidence"
    )
    kind = models.CharField(_("kind"), max_length=12, choices=EvidenceKind.choices)
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    size = models.PositiveBigIntegerField(_("size in bytes"))
    media_type = models.CharField(_("media type"), max_length=100, blank=True)
    # Display text only, sanitised (cases.evidence.uploads.sanitize_filename); never used as a path.
    original_name = models.CharField(_("original file name"), max_length=255, blank=True)
    storage_name = models.CharField(max_length=255)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    pdq_hash = models.CharField(_("PDQ hash"), max_length=64, blank=True)
    # The PDQ hash of the picture without its plain borders and caption bars (cases.matching.borders),
    # blank when it has none: a letterboxed or captioned re-upload matches through it.
    pdq_hash_trimmed = models.CharField(_("PDQ hash without borders"), max_length=64, blank=True)
    pdq_quality = models.PositiveSmallIntegerField(_("PDQ quality"), null=True, blank=True)
    explicit = models.BooleanField(_("may be explicit"), default=True)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    collected_at = models.DateTimeField(_("collected at"), default=timezone.now)

    class Meta:
        verbose_name_plural = "evidence"
        ordering = ["-collected_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "sha256"], name="evidence_unique_sha256_per_agency"
            ),
            models.CheckConstraint(
                condition=models.Q(sha256__regex=r"^[0-9a-f]{64}$"), name="evidence_sha256_is_hex"
            ),
        ]
        indexes = [
            models.Index(
                fields=["agency", "finding", "-collected_at"], name="evidence_finding_recent"
            ),
            models.Index(fields=["sha256"], name="evidence_sha256"),
        ]

    def __str__(self) -> str:
        return f"Evidence #{self.pk} {self.kind} {self.sha256[:12]}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            self._refuse_changes_to_collected_fields(kwargs.get("update_fields"))
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("evidence_detail", args=[self.pk])

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("Evidence is never deleted through the app")

    def _refuse_changes_to_collected_fields(self, update_fields: Any) -> None:
        touched = set(IMMUTABLE_EVIDENCE_FIELDS if update_fields is None else update_fields)
        stored = Evidence.objects.filter(pk=self.pk).values(*IMMUTABLE_EVIDENCE_FIELDS).first()
        if stored is None:
            return
        for name in IMMUTABLE_EVIDENCE_FIELDS:
            field_name = name.removesuffix("_id")
            if touched & {name, field_name} and getattr(self, name) != stored[name]:
                raise RuntimeError(f"Evidence.{field_name} is fixed at collection")

    @property
    def is_image(self) -> bool:
        return self.media_type.startswith("image/")


class CustodyAction(models.TextChoices):
    COLLECTED = "collected", _("Collected")
    VIEWED = "viewed", _("Viewed")
    REVEALED = "revealed", _("Revealed unblurred")
    DOWNLOADED = "downloaded", _("Downloaded")
    EXPORTED = "exported", _("Exported")
    TRANSFERRED = "transferred", _("Transferred")
    VERIFIED = "verified", _("Verified")


class CustodyEvent(AppendOnlyModel):
    """One entry of an evidence item's chain of custody: who did what with it, when, why.
    Append-only; each one is also an AuditEvent (cases.evidence.services.evidence.custody_record)."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="custody_events")
    evidence = models.ForeignKey(Evidence, on_delete=models.PROTECT, related_name="custody_events")
    action = models.CharField(_("action"), max_length=12, choices=CustodyAction.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # Kept apart from the FK so the log still names a person after the account is removed.
    actor_label = models.CharField(max_length=150, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["evidence", "created_at"], name="custody_evidence_time")]

    def __str__(self) -> str:
        return f"{self.action} of evidence {self.evidence_id} by {self.actor_label}"


class SignatureKind(models.TextChoices):
    PHRASE = "phrase", _("Phrase")
    REGEX = "regex", _("Regular expression")


class RemovalSignature(models.Model):
    """One platform's "content unavailable" page, recognised on the page's visible text
    (cases.evidence.capture.observation). Seeded per agency from cases/evidence/seeds.py and edited by
    the agency's admins; a signature applies only to pages served by its platform's
    domains. Deactivated, never deleted: captures name the signature they matched."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    platform = models.ForeignKey(
        Platform, on_delete=models.CASCADE, related_name="removal_signatures"
    )
    name = models.CharField(_("name"), max_length=120)
    kind = models.CharField(
        _("kind"), max_length=10, choices=SignatureKind.choices, default=SignatureKind.PHRASE
    )
    pattern = models.CharField(_("text or pattern"), max_length=500)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["platform__name", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "name"], name="removal_signature_unique_name_per_platform"
            ),
            models.CheckConstraint(
                condition=~models.Q(pattern=""), name="removal_signature_has_pattern"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.platform.name}: {self.name}"
