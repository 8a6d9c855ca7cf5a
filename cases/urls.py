"""URLs of the web UI and the REST API, one include per context. The names are a contract
shared with the API, the browser tests and the outsider test that walks every pattern:
change them only together."""

from __future__ import annotations

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import DefaultRouter

from cases.agency import api as agency_api
from cases.intake import api as intake_api
from cases.legal import api as legal_api
from cases.matching import api as matching_api
from cases.notices import api as notices_api

urlpatterns = [
    path("", include("cases.intake.urls")),
    path("", include("cases.legal.urls")),
    path("", include("cases.agency.urls")),
    path("", include("cases.evidence.urls")),
    path("", include("cases.matching.urls")),
    path("", include("cases.notices.urls")),
    path("", include("cases.stats.urls")),
    path("", include("cases.work.urls")),
]

# The REST API under /api/: a browsable root, the resources, the OpenAPI schema and its
# Swagger UI (the split view loads its script from a URL, so the page needs no inline script
# under our CSP). agencyguard/urls.py mounts it in the "api" namespace.
router = DefaultRouter()
router.register("artists", agency_api.ArtistViewSet, basename="artist")
router.register("groups", agency_api.GroupViewSet, basename="group")
router.register("findings", intake_api.FindingViewSet, basename="finding")
router.register("cases", legal_api.CaseViewSet, basename="case")
router.register("platforms", notices_api.PlatformViewSet, basename="platform")
router.register("notices", notices_api.NoticeViewSet, basename="notice")

api_urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api:schema"), name="docs"),
    path("exchange/bank/", matching_api.ExchangeBankView.as_view(), name="exchange-bank"),
    *router.urls,
]
