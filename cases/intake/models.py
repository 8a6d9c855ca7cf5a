"""Intake: findings (one discovered URL each), bulk import jobs and fan reports."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from cases.agency.models import Artist, Platform
from cases.intake.import_reasons import reason_render
from cases.kernel.jobs import Job, JobStatus
from cases.kernel.models import Agency


class FindingStatus(models.TextChoices):
    NEW = "new", _("New")
    TRIAGED = "triaged", _("Triaged")
    CAPTURED = "captured", _("Captured")
    NOTICE_SENT = "notice_sent", _("Notice sent")
    REMOVED = "removed", _("Removed")
    REAPPEARED = "reappeared", _("Reappeared")
    DISMISSED = "dismissed", _("Dismissed")


class FindingSource(models.TextChoices):
    STAFF = "staff", _("Staff")
    FAN_REPORT = "fan_report", _("Fan report")
    API = "api", _("API")
    IMPORT = "import", _("Import")
    CRAWLER = "crawler", _("Crawler")
    # Found by a watched source's poll (cases/intake/monitor): "discovered" in triage.
    MONITOR = "monitor", _("Discovered")


class Finding(models.Model):
    """One discovered URL, unique per agency on its canonical form."""

    # No single-column indexes on agency and host: the composite indexes below lead with
    # them, and every index is paid for on each imported row.
    agency = models.ForeignKey(
        Agency, on_delete=models.CASCADE, related_name="findings", db_index=False
    )
    url = models.TextField(_("URL as reported"))
    canonical_url = models.TextField(_("canonical URL"))
    # SHA-256 of canonical_url: a fixed-width key for the uniqueness constraint and lookups,
    # since canonical URLs can exceed what a btree index entry holds.
    canonical_hash = models.CharField(max_length=64)
    host = models.CharField(_("host"), max_length=255)
    platform = models.ForeignKey(
        Platform, on_delete=models.SET_NULL, null=True, blank=True, related_name="findings"
    )
    artists = models.ManyToManyField(Artist, related_name="findings", blank=True)
    source = models.CharField(
        _("source"), max_length=12, choices=FindingSource.choices, default=FindingSource.STAFF
    )
    status = models.CharField(
        _("status"), max_length=12, choices=FindingStatus.choices, default=FindingStatus.NEW
    )
    dismissed_reason = models.CharField(_("dismissal reason"), max_length=500, blank=True)
    # Indexed where set only (finding_assignee): most findings have none, and every index
    # entry is paid for on each imported row.
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_findings",
        db_index=False,
    )
    notes = models.TextField(_("notes"), blank=True)
    # No index: nothing filters on it, and every index is paid for on each imported row
    # (deleting a user, which clears it, is a rare administrative act).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    triaged_at = models.DateTimeField(null=True, blank=True)
    captured_at = models.DateTimeField(null=True, blank=True)
    notice_sent_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    reappeared_at = models.DateTimeField(null=True, blank=True)
    dismissed_at = models.DateTimeField(null=True, blank=True)
    # A removal (or a return online) was observed once: the re-check that can confirm it
    # is due then (cases.evidence.services.observations), ahead of the status's usual interval.
    recheck_due_at = models.DateTimeField(_("confirming re-check due"), null=True, blank=True)
    # The status and due time of the newest notice naming this finding ("" and None without
    # one), kept by database triggers (cases/notices/latest_sql.py) for the triage queue;
    # never written by save() on an update (below).
    latest_notice_status = models.CharField(max_length=20, blank=True, default="", editable=False)
    latest_notice_due = models.DateTimeField(null=True, blank=True, editable=False)
    # The ids of the linked artists ("3,17"; "" without one), kept by database triggers on
    # the link table (cases/intake/artist_ids_sql.py) for the list pages; never written by
    # save() on an update (below).
    artist_ids = models.TextField(blank=True, default="", editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "canonical_hash"], name="finding_unique_canonical_per_agency"
            ),
            models.CheckConstraint(
                condition=~models.Q(status="dismissed") | ~models.Q(dismissed_reason=""),
                name="finding_dismissed_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["agency", "-created_at", "-id"], name="finding_agency_recent"),
            models.Index(
                fields=["agency", "status", "-created_at", "-id"], name="finding_agency_status"
            ),
            models.Index(
                fields=["recheck_due_at"],
                condition=models.Q(recheck_due_at__isnull=False),
                name="finding_recheck_due",
            ),
            # Triage sorted by host (filters.ORDERINGS).
            models.Index(fields=["agency", "host", "-id"], name="finding_agency_host"),
            # Findings assigned to someone (the assignee filter, "my work", clearing a
            # deleted user's): a condition on an assignee implies it is not null, so the
            # planner uses it for all of them; no query looks for unassigned findings by it.
            models.Index(
                fields=["assignee"],
                condition=models.Q(assignee__isnull=False),
                name="finding_assignee",
            ),
        ]

    def __str__(self) -> str:
        return self.canonical_url

    def save(self, *args: Any, **kwargs: Any) -> None:
        """On an update, every field but the trigger-kept ones (TRIGGER_KEPT): an instance
        loaded before a notice or a link changed must not write back the old values."""
        updating = not (self._state.adding or kwargs.get("force_insert"))
        if updating and kwargs.get("update_fields") is None:
            # As Django does for an instance with deferred fields: only the loaded ones (a
            # deferred field is neither read back nor written).
            deferred = self.get_deferred_fields()
            kwargs["update_fields"] = [f for f in _SAVED_ON_UPDATE if f not in deferred]
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("finding_detail", args=[self.pk])


TRIGGER_KEPT = ("latest_notice_status", "latest_notice_due", "artist_ids")
# Attribute names ("platform_id"), as get_deferred_fields() gives them.
_SAVED_ON_UPDATE = [
    f.attname
    for f in Finding._meta.concrete_fields
    if not f.primary_key and f.name not in TRIGGER_KEPT
]


# An import has the common job lifecycle and no statuses of its own.
ImportJobStatus = JobStatus


class ImportJob(Job):
    """A bulk import of URLs (CSV or pasted lines), processed by a worker with progress.

    The uploaded text is kept on the row so a resumed task continues from the same input
    at `processed_rows`, the checkpoint committed with each chunk's findings and audit
    events (cases.intake.services.imports): a row is never recorded twice."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="import_jobs")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    filename = models.CharField(max_length=255, blank=True)
    payload = models.TextField()
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    created_count = models.PositiveIntegerField(default=0)
    duplicate_count = models.PositiveIntegerField(default=0)
    invalid_count = models.PositiveIntegerField(default=0)
    # Findings recorded with a warning (an artist name not on the roster), not in created.
    warning_count = models.PositiveIntegerField(default=0)
    # A retry of the rows an earlier import rejected: at most one per import (a second
    # click finds this one), and the earlier import's page links to it.
    retry_of = models.OneToOneField(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="retry"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    job_audit_prefix = "import"
    job_task = "cases.intake.tasks.import_job_run_task"
    job_stale_after_setting = "IMPORT_STALE_AFTER"
    # Chunks are taken under the row lock: two runs at once never take the same rows.
    job_overlap_safe = True

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(progress__lte=100), name="importjob_progress_at_most_100"
            )
        ]

    def __str__(self) -> str:
        return f"Import #{self.pk} ({self.status})"

    @property
    def report(self) -> list[list[object]]:
        """Every processed row as [row number, outcome, finding id or None, reason], in file
        order, the reason in the active language (the CSV download and tests read this)."""
        return [
            [r.row, r.outcome, r.finding_id, r.reason]
            for r in self.report_rows.order_by("row", "pk")
        ]


class ImportReportRow(models.Model):
    """One processed row of an import: appended with its chunk (never rewriting a growing
    report). The reason is stored as its untranslated message and parameters and rendered
    in the reader's language (`reason`)."""

    # No index of its own: import_report_outcome leads with it. No database constraint
    # either: checking it at commit was half a second per 100,000 imported rows (one
    # deferred lookup per row), and report rows are only written under their job's row lock
    # (services.imports), by the run that holds it, so the job exists; the ORM still
    # deletes them with their job (CASCADE is Django's, not the database's).
    job = models.ForeignKey(
        ImportJob,
        on_delete=models.CASCADE,
        related_name="report_rows",
        db_index=False,
        db_constraint=False,
    )
    row = models.PositiveIntegerField()  # the line number in the file
    outcome = models.CharField(max_length=10)  # created, warning, duplicate, invalid
    # A plain id, not a foreign key: the report keeps saying what happened after a deletion.
    finding_id = models.BigIntegerField(null=True, blank=True)
    url = models.TextField(blank=True)  # the raw value of the URL cell (or line)
    column = models.PositiveSmallIntegerField(null=True, blank=True)  # 1-based URL column
    code = models.TextField(blank=True)  # the reason's message id (English source text)
    params = models.TextField(blank=True)  # its parameters as JSON, "" when none
    # The row's line as it was in the file, kept for rejected rows only: what a retry of
    # the failed rows imports again.
    raw = models.TextField(blank=True)

    class Meta:
        ordering = ["row", "pk"]
        indexes = [models.Index(fields=["job", "outcome", "row"], name="import_report_outcome")]

    def __str__(self) -> str:
        return f"Import #{self.job_id} row {self.row}: {self.outcome}"

    @property
    def reason(self) -> str:
        return reason_render(self.code, self.params)


class FanReport(models.Model):
    """What a fan sent through the public form. The URL becomes (or joins) a Finding with
    source `fan_report`; the report keeps the fan's words and optional contact."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="fan_reports")
    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="fan_reports")
    artist = models.ForeignKey(Artist, on_delete=models.SET_NULL, null=True, blank=True)
    description = models.TextField(blank=True)
    contact = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # Who sent it, as keyed hashes (never the address itself): of the contact when one was
    # given, and of the client address (cases.intake.services.fan_reports.reporter_keys).
    # A repeat of the same URL by the same reporter is counted here, not stored again.
    contact_key = models.CharField(max_length=64, blank=True)
    address_key = models.CharField(max_length=64, blank=True)
    repeat_count = models.PositiveIntegerField(default=0)
    last_repeated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["finding", "created_at"], name="fanreport_finding_created"),
        ]

    def __str__(self) -> str:
        return f"Fan report #{self.pk}"


class FanScreenshot(models.Model):
    """A screenshot a fan attached to a report: the original kept write-once under its
    SHA-256 (cases.kernel.storage), never shown back to the public and never shown to staff
    (only its hashes and what it matched). Matching (cases.matching.services.fan_screenshots)
    fills in the PDQ hashes and links it to the earliest earlier fan screenshot of the same
    agency within the match threshold."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="fan_screenshots")
    report = models.ForeignKey(FanReport, on_delete=models.CASCADE, related_name="screenshots")
    sha256 = models.CharField(max_length=64)
    size = models.PositiveBigIntegerField()
    media_type = models.CharField(max_length=40)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    # Set by matching: the whole picture's hash and quality, and the hashes it is stored
    # and queried under (pdq_analyse: crops, trimmed borders; rotations for the queries).
    pdq_hex = models.CharField(max_length=64, blank=True)
    pdq_quality = models.PositiveSmallIntegerField(null=True, blank=True)
    pdq_stored = models.JSONField(default=list, blank=True)
    hashed_at = models.DateTimeField(null=True, blank=True)
    hash_error = models.CharField(max_length=300, blank=True)
    same_media_as = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="same_media"
    )
    distance = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["report", "sha256"], name="fanscreenshot_once"),
            models.CheckConstraint(
                condition=models.Q(same_media_as__isnull=True) | models.Q(distance__isnull=False),
                name="fanscreenshot_link_has_distance",
            ),
        ]
        indexes = [models.Index(fields=["agency", "hashed_at"], name="fanscreenshot_hashed")]

    def __str__(self) -> str:
        return f"Fan screenshot #{self.pk}"


class SavedView(models.Model):
    """A named set of triage filters (the query string of /findings/), private to its owner
    or, when shared, offered to everyone in the owner's agency."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="saved_views")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views"
    )
    name = models.CharField(_("name"), max_length=100)
    query = models.CharField(_("filters"), max_length=2000, blank=True)
    shared = models.BooleanField(_("shared with the agency"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "owner", "name"], name="savedview_unique_name_per_owner"
            )
        ]

    def __str__(self) -> str:
        return self.name


class FindingCountDimension(models.TextChoices):
    STATUS = "status", _("Status")
    PLATFORM = "platform", _("Platform")
    ARTIST = "artist", _("Artist")


class FindingCount(models.Model):
    """How many of an agency's findings have a status, are on a platform (key: its id, ""
    for none), or are linked to an artist (key: its id): the dashboard's figures. Written
    only by database triggers (cases/intake/counter_sql.py), in the transaction of the
    change; `manage.py finding_counts_check` compares them with a fresh count."""

    # No database constraint: the agency's own delete trigger removes its counters, after
    # Django's cascade (which may still move a counter while the agency is being deleted).
    agency = models.ForeignKey(
        Agency, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )
    dimension = models.CharField(max_length=8, choices=FindingCountDimension.choices)
    key = models.CharField(max_length=40)
    count = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "dimension", "key"], name="findingcount_unique_key"
            )
        ]

    def __str__(self) -> str:
        return f"{self.agency_id} {self.dimension}={self.key}: {self.count}"
