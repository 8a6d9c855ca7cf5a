from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from cases.models.tenancy import Agency


class Group(models.Model):
    """A group of artists (a K-pop group, a unit)."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="groups")
    name = models.CharField(_("name"), max_length=120)
    name_hangul = models.CharField(_("name (Hangul)"), max_length=120, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["agency", "name"], name="group_unique_name_per_agency")
        ]

    def __str__(self) -> str:
        return self.name


class Artist(models.Model):
    """An artist the agency protects. `legal_name` is sensitive: admins and legal only."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="artists")
    stage_name = models.CharField(_("stage name"), max_length=120)
    name_hangul = models.CharField(_("name (Hangul)"), max_length=120, blank=True)
    name_latin = models.CharField(_("name (Latin)"), max_length=120, blank=True)
    legal_name = models.CharField(_("legal name"), max_length=200, blank=True)
    aliases = models.JSONField(_("aliases"), default=list, blank=True)
    groups = models.ManyToManyField(Group, related_name="artists", blank=True)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["stage_name"]
        constraints = [
            models.UniqueConstraint(
                fields=["agency", "stage_name"], name="artist_unique_stage_name_per_agency"
            )
        ]

    def __str__(self) -> str:
        if self.name_hangul:
            return f"{self.stage_name} ({self.name_hangul})"
        return self.stage_name
