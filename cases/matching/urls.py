"""URLs of reference media (official works per artist, for re-upload matching)."""

from __future__ import annotations

from django.urls import path

from cases.matching.views import reference_media

urlpatterns = [
    path("reference-media/", reference_media.reference_media_index, name="reference_media_index"),
    path(
        "artists/<int:artist_pk>/reference-media/",
        reference_media.reference_media_list,
        name="reference_media_list",
    ),
    path(
        "artists/<int:artist_pk>/reference-media/new/",
        reference_media.reference_media_create,
        name="reference_media_create",
    ),
]
