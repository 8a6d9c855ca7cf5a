from __future__ import annotations

from django.urls import path

from reports import views

urlpatterns = [
    path("cases/<int:pk>/dossiers/", views.case_dossier_panel, name="case_dossier_panel"),
    path("cases/<int:pk>/dossiers/new/", views.case_dossier_create, name="case_dossier_create"),
    path("cases/<int:pk>/dossiers/annex/", views.case_annex_create, name="case_annex_create"),
    path(
        "cases/<int:pk>/dossiers/<int:dossier_pk>/retry/",
        views.case_dossier_retry,
        name="case_dossier_retry",
    ),
    path(
        "cases/<int:pk>/dossiers/<int:dossier_pk>/download/",
        views.case_dossier_download,
        name="case_dossier_download",
    ),
]
