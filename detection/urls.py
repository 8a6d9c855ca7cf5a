"""URLs of detection. Evidence-scoped ones take the evidence id (checked against the user's
agency by a selector). Detector versions are global software, but a member reads only the
cards of active detectors and of those that scored the agency's evidence (a selector)."""

from __future__ import annotations

from django.urls import path

from detection import views

urlpatterns = [
    path("evidence/<int:pk>/detection/", views.evidence_detection, name="evidence_detection"),
    path(
        "evidence/<int:pk>/detection/rerun/",
        views.evidence_detection_rerun,
        name="evidence_detection_rerun",
    ),
    path(
        "evidence/<int:pk>/detection/runs/<int:run_pk>/retry/",
        views.evidence_detection_retry,
        name="evidence_detection_retry",
    ),
    path(
        "evidence/<int:pk>/detection/review/",
        views.evidence_detection_review,
        name="evidence_detection_review",
    ),
    path("detectors/", views.detector_list, name="detector_list"),
    path("detectors/<int:pk>/", views.detector_detail, name="detector_detail"),
    path("detectors/rerun-all/", views.detection_rerun_all, name="detection_rerun_all"),
]
