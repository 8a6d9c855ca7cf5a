"""The real URLconf plus views that fail on purpose, for tests/cases/test_error_pages.py."""

from __future__ import annotations

from django.core.exceptions import SuspiciousOperation
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse
from django.urls import path

from agencyguard.urls import urlpatterns as real_urlpatterns


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug, on purpose")


def locked(request: HttpRequest) -> HttpResponse:
    raise OperationalError("database is locked")


def other_operational_error(request: HttpRequest) -> HttpResponse:
    raise OperationalError("no such table: nothing")


def suspicious(request: HttpRequest) -> HttpResponse:
    raise SuspiciousOperation("a malformed request, on purpose")


urlpatterns = [
    path("__test__/boom/", boom),
    path("__test__/suspicious/", suspicious),
    path("__test__/locked/", locked),
    path("api/__test__/locked/", locked),
    path("__test__/operational/", other_operational_error),
    *real_urlpatterns,
]
