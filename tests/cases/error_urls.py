"""The real URLconf plus views that fail on purpose, for tests/cases/test_error_pages.py."""

from __future__ import annotations

from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.urls import path

from agencyguard.urls import urlpatterns as real_urlpatterns


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug, on purpose")


def suspicious(request: HttpRequest) -> HttpResponse:
    raise SuspiciousOperation("a malformed request, on purpose")


urlpatterns = [
    path("__test__/boom/", boom),
    path("__test__/suspicious/", suspicious),
    *real_urlpatterns,
]
