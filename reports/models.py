"""Dossiers: one generated PDF (and, for a packet, a ZIP) of a case, stored privately with
its SHA-256, who generated it, and the exact list of evidence hashes it contains."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cases.kernel.jobs import Job, JobStatus
from cases.kernel.models import Agency
from cases.legal.models import Case


class DossierKind(models.TextChoices):
    DOSSIER = "dossier", _("Dossier (PDF)")
    PACKET = "packet", _("Evidence packet (ZIP)")
    ANNEX = "annex", _("Unblurred annex (PDF)")


# A dossier has the common job lifecycle and no statuses of its own.
DossierStatus = JobStatus


class Dossier(Job):
    """One generation of a case's dossier, packet or unblurred annex. Files live in the
    default storage under reports/<uuid>.pdf|.zip: never under a public URL, only streamed
    by the tenant-checked download view. `evidence_hashes` is the exact list of the
    evidence SHA-256s the output contains, in the order it contains them. A job of the one
    job runner (cases.kernel.jobs): its lifecycle columns come from Job."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="dossiers")
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="dossiers")
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(_("kind"), max_length=10, choices=DossierKind.choices)
    pdf_name = models.CharField(max_length=255, blank=True)
    pdf_sha256 = models.CharField(_("PDF SHA-256"), max_length=64, blank=True)
    pdf_size = models.PositiveBigIntegerField(_("PDF size"), null=True, blank=True)
    zip_name = models.CharField(max_length=255, blank=True)
    zip_sha256 = models.CharField(_("ZIP SHA-256"), max_length=64, blank=True)
    zip_size = models.PositiveBigIntegerField(_("ZIP size"), null=True, blank=True)
    evidence_hashes = models.JSONField(_("evidence hashes"), default=list, blank=True)
    # Annex only: the evidence ids asked for, and why (required, also in the custody log).
    requested_ids = models.JSONField(default=list, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    language = models.CharField(_("language"), max_length=10, default="en")
    timestamped = models.BooleanField(_("RFC 3161 timestamped"), default=False)
    signed = models.BooleanField(_("signed"), default=False)
    generated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    generated_by_label = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    job_audit_prefix = "dossier"
    job_task = "reports.tasks.dossier_build_task"
    job_task_arg = "dossier_id"
    job_stale_after_setting = "DOSSIER_STALE_AFTER"

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(progress__lte=100), name="dossier_progress_at_most_100"
            ),
            # An annex is never made without a recorded reason.
            models.CheckConstraint(
                condition=~Q(kind="annex") | ~Q(reason=""), name="dossier_annex_has_reason"
            ),
        ]
        indexes = [models.Index(fields=["case", "-created_at"], name="dossier_case_recent")]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} of case {self.case_id} ({self.status})"

    def job_audit_context(self) -> dict[str, Any]:
        return {"case": self.case_id, "kind": self.kind}

    @property
    def identifier(self) -> str:
        """What the cover and the packet call this generation."""
        return f"AG-{self.uuid.hex[:12].upper()}"
