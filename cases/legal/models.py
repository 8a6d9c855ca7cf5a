from __future__ import annotations

from django.conf import settings
from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from cases.agency.models import Artist
from cases.intake.models import Finding
from cases.kernel.models import Agency


class CaseStatus(models.TextChoices):
    OPEN = "open", _("Open")
    FILED_POLICE = "filed_police", _("Filed with police")
    CIVIL_SUIT = "civil_suit", _("Civil suit")
    CLOSED = "closed", _("Closed")


class Case(models.Model):
    """A legal matter grouping findings for a police report or a civil suit."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="cases")
    reference = models.CharField(_("reference"), max_length=40)
    title = models.CharField(_("title"), max_length=200)
    status = models.CharField(
        _("status"), max_length=14, choices=CaseStatus.choices, default=CaseStatus.OPEN
    )
    artists = models.ManyToManyField(Artist, related_name="cases", blank=True)
    findings = models.ManyToManyField(Finding, related_name="cases", blank=True)
    jurisdiction = models.CharField(_("jurisdiction"), max_length=120, blank=True)
    police_report_number = models.CharField(_("police report number"), max_length=120, blank=True)
    court_docket = models.CharField(_("court docket"), max_length=120, blank=True)
    counsel_name = models.CharField(_("counsel"), max_length=200, blank=True)
    counsel_email = models.EmailField(_("counsel e-mail"), blank=True)
    notes = models.TextField(_("notes"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "reference"], name="case_unique_reference")
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.title}"

    def get_absolute_url(self) -> str:
        return reverse("case_detail", args=[self.pk])


class CaseDeadline(models.Model):
    """A dated obligation on a case (filing date, hearing, response due)."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="deadlines")
    title = models.CharField(_("title"), max_length=200)
    due_on = models.DateField(_("due on"))
    done = models.BooleanField(_("done"), default=False)

    class Meta:
        ordering = ["due_on"]

    def __str__(self) -> str:
        return f"{self.title} ({self.due_on})"
