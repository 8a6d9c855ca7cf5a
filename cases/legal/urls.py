"""URLs of legal cases: the list, a case, its findings and deadlines."""

from __future__ import annotations

from django.urls import path

from cases.legal.views import cases

urlpatterns = [
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
]
