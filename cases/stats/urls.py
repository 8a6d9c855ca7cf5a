"""URLs of the dashboard (the home page), the statistics pages and their CSV exports."""

from __future__ import annotations

from django.urls import path

from cases.stats.views import dashboard, stats

urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("stats/", stats.stats_dashboard, name="stats_dashboard"),
    path("stats/export.csv", stats.stats_export, name="stats_export"),
    path("stats/transparency/", stats.stats_transparency, name="stats_transparency"),
    path("stats/transparency.csv", stats.stats_transparency_csv, name="stats_transparency_csv"),
]
