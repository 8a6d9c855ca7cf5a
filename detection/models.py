"""Detection: registered detector versions, runs on evidence items, and human reviews.

A score is advice; the latest DetectionReview of an evidence item is the verdict. A run
never holds a probability unless a registered detector produced it (a database constraint),
so "no trained detector installed" can never turn into a number by accident. A detector is
active only when it passes the quality gates written on its card and is not a legacy model
(also a database constraint), and a number is called a calibrated probability only when the
card holds a calibration fitted on held-out data (detection.gates, detection.statements)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from cases.evidence.models import Evidence
from cases.kernel.jobs import Job
from cases.kernel.models import Agency, AppendOnlyModel
from detection.gates import calibration_fitted
from detection.statements import detector_caveats, small_sample_warning


class DetectorVersion(models.Model):
    """One trained classifier, as its model card describes it: architecture, checkpoint path
    and SHA-256 (verified before every load), normalisation, calibration, measured metrics,
    training data and licence. Global, not per agency: a model is software, not agency data.
    At most one version of a key is active."""

    key = models.CharField(_("detector"), max_length=100)
    version = models.CharField(_("version"), max_length=50)
    architecture = models.CharField(_("architecture"), max_length=100)
    checkpoint_path = models.CharField(_("checkpoint path"), max_length=500)
    checkpoint_sha256 = models.CharField(_("checkpoint SHA-256"), max_length=64)
    card_path = models.CharField(_("model card path"), max_length=500, blank=True)
    # The model card as registered (detection.registry.DetectorSpec fields).
    card = models.JSONField(_("model card"), default=dict)
    active = models.BooleanField(_("active"), default=False)
    # A baseline kept for comparison (Meso-4): never active, never a headline score.
    legacy = models.BooleanField(_("legacy model"), default=False)
    # The verdict of detection.gates at registration (the results are in card["gates"]).
    gates_passed = models.BooleanField(_("passes its quality gates"), default=False)
    registered_at = models.DateTimeField(_("registered at"), default=timezone.now)

    class Meta:
        ordering = ["-registered_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["key", "version"], name="detector_unique_version"),
            models.UniqueConstraint(
                fields=["key"], condition=Q(active=True), name="detector_one_active_per_key"
            ),
            models.CheckConstraint(
                condition=Q(checkpoint_sha256__regex=r"^[0-9a-f]{64}$"),
                name="detector_sha256_is_hex",
            ),
            # Whatever writes the row (service, admin, shell, raw SQL): a legacy or
            # gate-failing model never becomes the one new runs use.
            models.CheckConstraint(
                condition=Q(active=False) | (Q(gates_passed=True) & Q(legacy=False)),
                name="detector_active_only_if_gates_pass",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} {self.version}"

    @property
    def calibrated(self) -> bool:
        return calibration_fitted(self.card or {})

    @property
    def headline_eligible(self) -> bool:
        """May its scores head a page and rank the triage queue?"""
        return self.gates_passed and not self.legacy and self.calibrated

    @property
    def gate_results(self) -> list[dict[str, Any]]:
        gates = (self.card or {}).get("gates") or {}
        return [r for r in gates.get("results") or [] if isinstance(r, dict)]

    @property
    def gate_failures(self) -> list[str]:
        return [str(r.get("name")) for r in self.gate_results if not r.get("passed")]

    @property
    def small_sample_warning(self) -> str:
        return small_sample_warning(self)

    @property
    def caveats(self) -> list[str]:
        return detector_caveats(self)

    @property
    def metrics(self) -> dict[str, Any]:
        return dict(self.card.get("metrics") or {})

    @property
    def auc(self) -> float | None:
        value = self.metrics.get("auc")
        return float(value) if isinstance(value, int | float) else None

    @property
    def n_eval(self) -> int | None:
        value = self.metrics.get("n_eval")
        return int(value) if isinstance(value, int | float) else None


class DetectionStatus(models.TextChoices):
    """The job lifecycle (cases.kernel.jobs.JobStatus) plus the end statuses that say what
    the analysis found or why it could not score the item. "failed" is an error of the
    run itself (an exception, the time limit, a lost worker): only that one is retried."""

    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    NO_DETECTOR = "no_detector", _("No trained detector installed")
    NO_FACES = "no_faces", _("No faces found")
    DECODE_ERROR = "decode_error", _("The file could not be decoded")
    MODEL_ERROR = "model_error", _("The model failed")
    UNSUPPORTED = "unsupported", _("Unsupported file")
    FAILED = "failed", _("Failed")


# Statuses after which a run is never executed again (a redelivered message is a no-op).
FINISHED_STATUSES = (
    DetectionStatus.DONE,
    DetectionStatus.NO_DETECTOR,
    DetectionStatus.NO_FACES,
    DetectionStatus.DECODE_ERROR,
    DetectionStatus.MODEL_ERROR,
    DetectionStatus.UNSUPPORTED,
    DetectionStatus.FAILED,
)


class DetectionRun(Job):
    """One analysis of one evidence item: provenance signals always, and faces with
    calibrated scores when a detector is installed. Records exactly what produced the score
    (detector version and checkpoint hash), where (device) and how long each step took.
    A job of the one job runner (cases.kernel.jobs): its lifecycle columns come from Job."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="detection_runs")
    evidence = models.ForeignKey(Evidence, on_delete=models.PROTECT, related_name="detection_runs")
    detector_version = models.ForeignKey(
        DetectorVersion,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="runs",
    )
    status = models.CharField(
        _("status"), max_length=16, choices=DetectionStatus.choices, default=DetectionStatus.QUEUED
    )
    message = models.TextField(_("message"), blank=True)
    # P(fake) when score_calibrated, else the model's raw score in [0, 1] (not a probability).
    item_probability = models.FloatField(_("score of fake (0-1)"), null=True, blank=True)
    # Whether the detector's card held a calibration fitted on held-out data when this run
    # scored the item: only then is the number a calibrated probability.
    score_calibrated = models.BooleanField(_("calibrated score"), default=False)
    faces = models.JSONField(_("faces"), default=list, blank=True)
    provenance = models.JSONField(_("provenance signals"), default=list, blank=True)
    device = models.CharField(_("device"), max_length=50, blank=True)
    timings = models.JSONField(_("timings (ms)"), default=dict, blank=True)
    frames_analyzed = models.PositiveIntegerField(_("frames analysed"), null=True, blank=True)
    checkpoint_sha256 = models.CharField(_("checkpoint SHA-256"), max_length=64, blank=True)
    # Extras of the pipeline: precision, aggregation rule, frame times, warnings, size.
    details = models.JSONField(default=dict, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    job_audit_prefix = "detection"
    job_task = "detection.tasks.detection_run_task"
    job_task_arg = "run_id"
    job_stale_after_setting = "DETECTION_STALE_AFTER"
    job_finished_statuses = FINISHED_STATUSES
    # A run whose worker died is failed, not resumed: a file that kills a (GPU) worker
    # would kill the next one too. A person can retry it.
    job_max_attempts = 1
    # A re-run of every item after a new detector can keep runs queued for a day or more
    # on a single GPU worker: only a week in the queue means the message was lost.
    job_queued_stale_after = timedelta(days=7)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(progress__lte=100), name="detection_progress_at_most_100"
            ),
            # Honest by construction: a number only from a finished run of a registered
            # detector whose checkpoint hash is recorded, and only between 0 and 1.
            models.CheckConstraint(
                condition=Q(item_probability__isnull=True)
                | (
                    Q(status="done")
                    & Q(detector_version__isnull=False)
                    & ~Q(checkpoint_sha256="")
                    & Q(item_probability__gte=0)
                    & Q(item_probability__lte=1)
                ),
                name="detection_probability_only_from_a_detector",
            ),
        ]
        indexes = [
            models.Index(fields=["evidence", "-created_at"], name="detection_evidence_recent"),
            models.Index(fields=["agency", "status"], name="detection_agency_status"),
            # The stale-job sweep (cases.kernel.jobs.job_reap_stale) reads only live runs.
            models.Index(
                fields=["status", "heartbeat_at"],
                name="detection_job_heartbeat",
                condition=Q(status__in=["queued", "running"]),
            ),
        ]

    def __str__(self) -> str:
        return f"Detection #{self.pk} of evidence {self.evidence_id} ({self.status})"

    def job_audit_context(self) -> dict[str, Any]:
        return {"evidence": self.evidence_id}

    @property
    def is_pending(self) -> bool:
        return not self.is_finished

    @property
    def has_score(self) -> bool:
        return self.item_probability is not None and self.detector_version_id is not None

    @property
    def is_headline(self) -> bool:
        """A calibrated score of a gate-passing, non-legacy detector: the only kind of
        number that heads the evidence page, the dossier entry and the API's headline."""
        version = self.detector_version
        return (
            self.has_score
            and self.score_calibrated
            and version is not None
            and version.headline_eligible
        )


class ReviewVerdict(models.TextChoices):
    CONFIRMED_FAKE = "confirmed_fake", _("Confirmed fake")
    NOT_FAKE = "not_fake", _("Not fake")
    UNSURE = "unsure", _("Unsure")


class DetectionReview(AppendOnlyModel):
    """A person's verdict on an evidence item. Append-only: a change of mind is a new
    review, and the latest one is the verdict (the history stays, as in the audit trail)."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="detection_reviews")
    evidence = models.ForeignKey(
        Evidence, on_delete=models.PROTECT, related_name="detection_reviews"
    )
    # The run the reviewer had in front of them, if any.
    run = models.ForeignKey(
        DetectionRun, on_delete=models.PROTECT, null=True, blank=True, related_name="reviews"
    )
    verdict = models.CharField(_("verdict"), max_length=16, choices=ReviewVerdict.choices)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # Kept apart from the FK so the verdict still names a person after the account is removed.
    reviewer_label = models.CharField(max_length=150, blank=True)
    note = models.TextField(_("note"), blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["evidence", "-created_at"], name="review_evidence_recent"),
            models.Index(fields=["agency", "verdict"], name="review_agency_verdict"),
        ]

    def __str__(self) -> str:
        return f"{self.verdict} on evidence {self.evidence_id} by {self.reviewer_label}"
