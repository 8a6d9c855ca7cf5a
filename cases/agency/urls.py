"""URLs of agency administration: the roster, staff, platforms, the audit trail, the
agency's settings, and the user's own settings and account (password change and reset,
two-factor login)."""

from __future__ import annotations

from django.urls import path

from cases.agency.views import (
    account,
    agency_settings,
    audit,
    platforms,
    roster,
    settings,
    staff,
    twofactor,
)

urlpatterns = [
    path("artists/", roster.artist_list, name="artist_list"),
    path("artists/new/", roster.artist_create, name="artist_create"),
    path("artists/<int:pk>/", roster.artist_detail, name="artist_detail"),
    path("artists/<int:pk>/edit/", roster.artist_update, name="artist_update"),
    path(
        "artists/<int:pk>/share-consent/",
        roster.artist_share_consent,
        name="artist_share_consent",
    ),
    path("groups/", roster.group_list, name="group_list"),
    path("groups/new/", roster.group_create, name="group_create"),
    path("groups/<int:pk>/edit/", roster.group_update, name="group_update"),
    path("staff/", staff.staff_list, name="staff_list"),
    path("staff/new/", staff.staff_create, name="staff_create"),
    path("staff/<int:pk>/edit/", staff.staff_update, name="staff_update"),
    path(
        "staff/<int:pk>/password-reset/",
        staff.staff_password_reset,
        name="staff_password_reset",
    ),
    path("platforms/", platforms.platform_list, name="platform_list"),
    path("platforms/<int:pk>/edit/", platforms.platform_update, name="platform_update"),
    path("audit/", audit.audit_list, name="audit_list"),
    path("settings/", settings.user_settings, name="user_settings"),
    # The user's own account; the reset pages are public (cases.agency.views.account).
    path("account/password/", account.password_change, name="password_change"),
    path("account/password/reset/", account.password_reset, name="password_reset"),
    path("account/password/reset/sent/", account.password_reset_done, name="password_reset_done"),
    path(
        "account/password/reset/<uidb64>/<token>/",
        account.password_reset_confirm,
        name="password_reset_confirm",
    ),
    path(
        "account/password/reset/done/",
        account.password_reset_complete,
        name="password_reset_complete",
    ),
    path("agency/settings/", agency_settings.agency_settings, name="agency_settings"),
    path("account/two-factor/", twofactor.twofactor_setup, name="twofactor_setup"),
    path("account/two-factor/verify/", twofactor.twofactor_verify, name="twofactor_verify"),
    path(
        "account/two-factor/recovery-codes/",
        twofactor.twofactor_recovery_codes,
        name="twofactor_recovery_codes",
    ),
    path("account/two-factor/disable/", twofactor.twofactor_disable, name="twofactor_disable"),
]
