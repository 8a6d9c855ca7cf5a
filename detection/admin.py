"""Django admin of detector versions (superusers only). Registration happens through
`manage.py register_detector`; here an operator reads cards and activates or deactivates
versions, always through the services, so a legacy or gate-failing model is refused here
as everywhere (and by the database constraint behind it)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from detection.models import DetectorVersion
from detection.services.detectors import (
    DetectorActivationError,
    detector_activate,
    detector_deactivate,
)


@admin.register(DetectorVersion)
class DetectorVersionAdmin(admin.ModelAdmin):
    list_display = ("key", "version", "architecture", "active", "legacy", "gates_passed")
    list_filter = ("active", "legacy", "gates_passed")
    readonly_fields = (
        "key",
        "version",
        "architecture",
        "checkpoint_path",
        "checkpoint_sha256",
        "card_path",
        "card",
        "active",
        "legacy",
        "gates_passed",
        "registered_at",
    )
    actions = ("activate", "deactivate")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # the checkpoint's hash is checked by register_detector, not a form

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # runs name their detector (PROTECT): a version is retired, not deleted

    @admin.action(description="Activate (only if it passes its quality gates)")
    def activate(self, request: HttpRequest, queryset: QuerySet[DetectorVersion]) -> None:
        for version in queryset:
            try:
                detector_activate(version=version)
            except DetectorActivationError as exc:
                self.message_user(request, str(exc), level=messages.ERROR)
            else:
                self.message_user(request, f"{version} activated.", level=messages.SUCCESS)

    @admin.action(description="Deactivate")
    def deactivate(self, request: HttpRequest, queryset: QuerySet[DetectorVersion]) -> None:
        for version in queryset:
            detector_deactivate(version=version)
        self.message_user(request, f"{queryset.count()} version(s) deactivated.")
