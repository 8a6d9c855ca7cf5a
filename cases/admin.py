"""The Django admin is for superusers (platform operators) only; agency staff use the app."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from cases.agency.models import Platform
from cases.kernel.models import Agency, AuditEvent, Membership

admin.site.has_permission = lambda request: bool(  # type: ignore[method-assign]
    request.user.is_active and request.user.is_superuser
)


@admin.register(Agency)
class AgencyAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "fan_reports_enabled", "created_at")


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "agency", "role")
    list_filter = ("agency", "role")


@admin.register(Platform)
class PlatformAdmin(admin.ModelAdmin):
    list_display = ("name", "agency", "channel")
    list_filter = ("agency",)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    list_display = (
        "agency",
        "seq",
        "action",
        "object_type",
        "object_id",
        "actor_label",
        "created_at",
    )
    list_filter = ("agency", "action")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
