"""The Celery app. Queues: capture, detection, reports, default (see docs/deploy.md)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agencyguard.settings")

app = Celery("agencyguard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
