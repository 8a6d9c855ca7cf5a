from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Agency(models.Model):
    """A tenant: one entertainment company. Nothing crosses from one agency to another."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    fan_reports_enabled = models.BooleanField(_("accept fan reports"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "agencies"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    ADMIN = "admin", _("Admin")
    LEGAL = "legal", _("Legal staff")
    VIEWER = "viewer", _("Viewer")


class Membership(models.Model):
    """A user's place in one agency. One membership per user: a person who works for two
    agencies holds two accounts, so a session can never mix their data."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="membership"
    )
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=10, choices=Role.choices, default=Role.VIEWER)
    always_blur = models.BooleanField(_("keep all media blurred"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["agency", "user__username"]

    def __str__(self) -> str:
        return f"{self.user} @ {self.agency} ({self.role})"

    @property
    def can_write(self) -> bool:
        return self.role in (Role.ADMIN, Role.LEGAL)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN
