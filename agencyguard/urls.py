from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.i18n import set_language

from agencyguard import metrics
from cases import urls as cases_urls
from cases.kernel import health
from detection import api as detection_api

urlpatterns = [
    # Probes for load balancers and orchestrators: public, no agency data (docs/deploy.md).
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # Prometheus, for a scraper holding METRICS_TOKEN only (docs/deploy.md "Metrics").
    path("metrics", metrics.metrics, name="metrics"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/setlang/", set_language, name="set_language"),
    # One "api" namespace: the cases resources and detection's (runs and model cards).
    path("api/", include(([*detection_api.urlpatterns, *cases_urls.api_urlpatterns], "api"))),
    path("admin/", admin.site.urls),
    path("", include("detection.urls")),
    path("", include("reports.urls")),
    path("", include("cases.urls")),
]

# JSON errors under /api/, the usual pages elsewhere (cases/kernel/errors.py).
handler400 = "cases.kernel.errors.bad_request"
handler404 = "cases.kernel.errors.page_not_found"
handler500 = "cases.kernel.errors.server_error"
