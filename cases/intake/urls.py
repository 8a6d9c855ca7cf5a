"""URLs of intake: findings and the triage queue, bulk import, watched sources, and the
public fan report form (no login)."""

from __future__ import annotations

from django.urls import path

from cases.intake.views import fan_reports, findings, imports, saved_views, watched_sources

urlpatterns = [
    # Findings and the triage queue
    path("findings/", findings.finding_list, name="finding_list"),
    path("findings/new/", findings.finding_create, name="finding_create"),
    path("findings/bulk-status/", findings.finding_bulk_status, name="finding_bulk_status"),
    path("findings/<int:pk>/", findings.finding_detail, name="finding_detail"),
    path("findings/<int:pk>/status/", findings.finding_status, name="finding_status"),
    path("findings/<int:pk>/edit/", findings.finding_update, name="finding_update"),
    path(
        "findings/<int:pk>/abuse-lookup/",
        findings.finding_abuse_lookup,
        name="finding_abuse_lookup",
    ),
    path("findings/views/", saved_views.saved_view_create, name="saved_view_create"),
    path(
        "findings/views/<int:pk>/delete/",
        saved_views.saved_view_remove,
        name="saved_view_delete",
    ),
    # Bulk import
    path("imports/", imports.import_list, name="import_list"),
    path("imports/new/", imports.import_create, name="import_create"),
    path("imports/<int:pk>/", imports.import_detail, name="import_detail"),
    path("imports/<int:pk>/report.csv", imports.import_report, name="import_report"),
    path("imports/<int:pk>/retry/", imports.import_retry, name="import_retry"),
    path(
        "imports/<int:pk>/retry-failed-rows/",
        imports.import_retry_failed_rows,
        name="import_retry_failed_rows",
    ),
    # Watched sources (cases/intake/monitor)
    path("sources/", watched_sources.watched_source_list, name="watched_source_list"),
    path("sources/new/", watched_sources.watched_source_create, name="watched_source_create"),
    path("sources/<int:pk>/", watched_sources.watched_source_detail, name="watched_source_detail"),
    path(
        "sources/<int:pk>/edit/",
        watched_sources.watched_source_update,
        name="watched_source_update",
    ),
    path(
        "sources/<int:pk>/delete/",
        watched_sources.watched_source_delete,
        name="watched_source_delete",
    ),
    path("sources/<int:pk>/poll/", watched_sources.watched_source_poll, name="watched_source_poll"),
    # Public, no login
    path("report/<slug:agency_slug>/", fan_reports.fan_report, name="fan_report"),
    path(
        "report/<slug:agency_slug>/thanks/",
        fan_reports.fan_report_thanks,
        name="fan_report_thanks",
    ),
]
