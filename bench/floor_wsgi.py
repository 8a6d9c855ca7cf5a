"""The app's WSGI application plus two bench-only pages for bench/scale_1m.py:

- `/bench-floor/`, the "floor" the 1M figures are divided by: a logged-in member page
  (`member_required`, so the session, user, membership and two-factor lookups run as on every
  page) behind the whole middleware stack, served by the same gunicorn, that returns two
  bytes without touching the findings: what any request costs before it does its own work.
- `/bench-floor-page/`: the same, rendering the app's layout (base.html: navigation,
  sidebar, context processors) around one paragraph: what every HTML page of the app costs
  before its own content, shown beside the required ratios for reading them.

Only gunicorn under bench/scale_1m.py loads this module; the product's URLs are unchanged."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agencyguard.settings")

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()

from django.http import HttpRequest, HttpResponse  # noqa: E402
from django.template import engines  # noqa: E402
from django.urls import clear_url_caches, path  # noqa: E402
from django.views.decorators.http import require_GET  # noqa: E402

from agencyguard import urls  # noqa: E402
from cases.kernel.web import member_required  # noqa: E402


@require_GET
@member_required()
def floor(request: HttpRequest) -> HttpResponse:
    return HttpResponse(b"ok", content_type="text/plain")


LAYOUT = engines["django"].from_string(
    '{% extends "base.html" %}{% block title %}Floor{% endblock %}'
    "{% block content %}<p>ok</p>{% endblock %}"
)


@require_GET
@member_required()
def floor_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(LAYOUT.render({}, request))


urls.urlpatterns.insert(0, path("bench-floor/", floor, name="bench_floor"))
urls.urlpatterns.insert(0, path("bench-floor-page/", floor_page, name="bench_floor_page"))
clear_url_caches()
