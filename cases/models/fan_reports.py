from __future__ import annotations

from django.db import models

from cases.models.findings import Finding
from cases.models.roster import Artist
from cases.models.tenancy import Agency


class FanReport(models.Model):
    """What a fan sent through the public form. The URL becomes (or joins) a Finding with
    source `fan_report`; the report keeps the fan's words and optional contact."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="fan_reports")
    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="fan_reports")
    artist = models.ForeignKey(Artist, on_delete=models.SET_NULL, null=True, blank=True)
    description = models.TextField(blank=True)
    contact = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Fan report #{self.pk}"
