"""URLs of evidence files and pages. Every one takes a numeric id that a selector checks
against the user's agency: there is deliberately no route by hash."""

from __future__ import annotations

from django.urls import path

from cases.views import evidence

urlpatterns = [
    path("evidence/<int:pk>/", evidence.evidence_detail, name="evidence_detail"),
    path("evidence/<int:pk>/preview/", evidence.evidence_preview, name="evidence_preview"),
    path("evidence/<int:pk>/reveal/", evidence.evidence_reveal, name="evidence_reveal"),
    path("evidence/<int:pk>/download/", evidence.evidence_download, name="evidence_download"),
    path(
        "findings/<int:finding_pk>/evidence/upload/",
        evidence.evidence_upload,
        name="evidence_upload",
    ),
]
