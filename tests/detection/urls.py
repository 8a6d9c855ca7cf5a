"""The project's URLs plus detection's, for tests run before the root URLconf includes them."""

from __future__ import annotations

from django.urls import include, path

from agencyguard.urls import urlpatterns as project_urlpatterns

urlpatterns = [*project_urlpatterns, path("", include("detection.urls"))]
