"""The REST API under /api/: a browsable root, the four resources, the OpenAPI schema and
its Swagger UI (the split view loads its script from a URL, so the page needs no inline
script under our CSP)."""

from __future__ import annotations

from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from cases.api import notices, views

app_name = "api"

router = DefaultRouter()
router.register("artists", views.ArtistViewSet, basename="artist")
router.register("groups", views.GroupViewSet, basename="group")
router.register("findings", views.FindingViewSet, basename="finding")
router.register("cases", views.CaseViewSet, basename="case")
router.register("platforms", notices.PlatformViewSet, basename="platform")
router.register("notices", notices.NoticeViewSet, basename="notice")

urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    *router.urls,
]
