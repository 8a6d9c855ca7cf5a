"""URLs of evidence files, captures and removal signatures. Evidence files and pages: Every one takes a numeric id that a selector checks
against the user's agency: there is deliberately no route by hash."""

from __future__ import annotations

from django.urls import path

from cases.evidence.views import captures, evidence, removal_signatures

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
    path("findings/<int:finding_pk>/captures/", captures.capture_panel, name="capture_panel"),
    path(
        "findings/<int:finding_pk>/captures/new/",
        captures.capture_request,
        name="capture_request",
    ),
    path("captures/<int:pk>/", captures.capture_detail, name="capture_detail"),
    path("captures/<int:pk>/progress/", captures.capture_progress, name="capture_progress"),
    path("captures/<int:pk>/retry/", captures.capture_retry, name="capture_retry"),
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
]
