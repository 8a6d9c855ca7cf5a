"""URLs of captures: every one takes a numeric id that a selector checks against the user's
agency (an outsider's id is a 404)."""

from __future__ import annotations

from django.urls import path

from cases.views import captures

urlpatterns = [
    path("findings/<int:finding_pk>/captures/", captures.capture_panel, name="capture_panel"),
    path(
        "findings/<int:finding_pk>/captures/new/",
        captures.capture_request,
        name="capture_request",
    ),
    path("captures/<int:pk>/", captures.capture_detail, name="capture_detail"),
    path("captures/<int:pk>/progress/", captures.capture_progress, name="capture_progress"),
]
