"""The project's URLs plus two planted views that answer 500 on hostile input: proof that
tests/cases/test_hostile_resolver.py fails when a pattern like them is added."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.urls import path

from agencyguard.urls import urlpatterns as project_urlpatterns


def planted_widget(request: HttpRequest, pk: str) -> HttpResponse:
    return HttpResponse(str(int(pk)))  # trusts its URL argument


def planted_list(request: HttpRequest) -> HttpResponse:
    return HttpResponse(str(int(request.GET.get("page", "1"))))  # trusts its query string


urlpatterns = [
    path("planted/<str:pk>/", planted_widget, name="planted_widget"),
    path("planted/", planted_list, name="planted_list"),
    *project_urlpatterns,
]
