"""The project's URLs plus reference media, for tests that run before cases/urls.py includes
cases.matching.urls (harmless once it does: the first match wins)."""

from __future__ import annotations

from django.urls import include, path

from agencyguard.urls import urlpatterns as project_urlpatterns

urlpatterns = [*project_urlpatterns, path("", include("cases.matching.urls"))]
