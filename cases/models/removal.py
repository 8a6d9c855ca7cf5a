"""Removal signatures: how each platform says "this content was removed" on a 2xx page."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from cases.models.platforms import Platform
from cases.models.tenancy import Agency


class SignatureKind(models.TextChoices):
    PHRASE = "phrase", _("Phrase")
    REGEX = "regex", _("Regular expression")


class RemovalSignature(models.Model):
    """One platform's "content unavailable" page, recognised on the page's visible text
    (cases.capture.observation). Seeded per agency from cases/removal_seed.py and edited by
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
