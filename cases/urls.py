"""URLs of the web UI. The names are a contract shared with the API, the browser tests
and the outsider test that walks every pattern: change them only together."""

from __future__ import annotations

from django.urls import include, path

from cases.views import (
    audit,
    cases,
    dashboard,
    fan_reports,
    findings,
    imports,
    platforms,
    removal_signatures,
    roster,
    settings,
    staff,
)

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    # Findings and the triage queue
    path("findings/", findings.finding_list, name="finding_list"),
    path("findings/new/", findings.finding_create, name="finding_create"),
    path("findings/bulk-status/", findings.finding_bulk_status, name="finding_bulk_status"),
    path("findings/<int:pk>/", findings.finding_detail, name="finding_detail"),
    path("findings/<int:pk>/status/", findings.finding_status, name="finding_status"),
    path("findings/<int:pk>/edit/", findings.finding_update, name="finding_update"),
    # Bulk import
    path("imports/", imports.import_list, name="import_list"),
    path("imports/new/", imports.import_create, name="import_create"),
    path("imports/<int:pk>/", imports.import_detail, name="import_detail"),
    path("imports/<int:pk>/report.csv", imports.import_report, name="import_report"),
    # Cases
    path("cases/", cases.case_list, name="case_list"),
    path("cases/new/", cases.case_create, name="case_create"),
    path("cases/<int:pk>/", cases.case_detail, name="case_detail"),
    path("cases/<int:pk>/edit/", cases.case_update, name="case_update"),
    path("cases/<int:pk>/findings/", cases.case_findings, name="case_findings"),
    path("cases/<int:pk>/deadlines/", cases.case_deadline_add, name="case_deadline_add"),
    path(
        "cases/<int:pk>/deadlines/<int:deadline_pk>/done/",
        cases.case_deadline_done,
        name="case_deadline_done",
    ),
    # Roster
    path("artists/", roster.artist_list, name="artist_list"),
    path("artists/new/", roster.artist_create, name="artist_create"),
    path("artists/<int:pk>/", roster.artist_detail, name="artist_detail"),
    path("artists/<int:pk>/edit/", roster.artist_update, name="artist_update"),
    path("groups/", roster.group_list, name="group_list"),
    path("groups/new/", roster.group_create, name="group_create"),
    path("groups/<int:pk>/edit/", roster.group_update, name="group_update"),
    # Agency administration
    path("staff/", staff.staff_list, name="staff_list"),
    path("staff/new/", staff.staff_create, name="staff_create"),
    path("staff/<int:pk>/edit/", staff.staff_update, name="staff_update"),
    path("platforms/", platforms.platform_list, name="platform_list"),
    path("platforms/<int:pk>/edit/", platforms.platform_update, name="platform_update"),
    path(
        "platforms/removal-signatures/",
        removal_signatures.removal_signature_list,
        name="removal_signature_list",
    ),
    path(
        "platforms/removal-signatures/new/",
        removal_signatures.removal_signature_create,
        name="removal_signature_create",
    ),
    path(
        "platforms/removal-signatures/<int:pk>/edit/",
        removal_signatures.removal_signature_update,
        name="removal_signature_update",
    ),
    path("audit/", audit.audit_list, name="audit_list"),
    path("settings/", settings.user_settings, name="user_settings"),
    # Public, no login
    path("report/<slug:agency_slug>/", fan_reports.fan_report, name="fan_report"),
    path(
        "report/<slug:agency_slug>/thanks/",
        fan_reports.fan_report_thanks,
        name="fan_report_thanks",
    ),
    path("", include("cases.urls_evidence")),
    path("", include("cases.urls_reference")),
    path("", include("cases.urls_captures")),
    path("", include("cases.urls_notices")),
    path("", include("cases.urls_stats")),
]
