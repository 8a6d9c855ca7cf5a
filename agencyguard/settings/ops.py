"""Operations: logging, metrics, error reporting, health of the worker and beat
(docs/deploy.md "Logs", "Metrics", "Error reporting", "Health checks")."""

from __future__ import annotations

import os

from agencyguard.logs import logging_config
from agencyguard.settings.core import SECURE_REDIRECT_EXEMPT as _CORE_REDIRECT_EXEMPT
from agencyguard.settings.env import DEBUG, VAR_DIR, envint

# `json`: one JSON object per line (timestamp, level, logger, message, request_id,
# exception) for a log shipper; anything else: one readable line with the same fields.
LOG_FORMAT = os.getenv("LOG_FORMAT", "plain").strip().lower()
LOG_LEVEL = os.getenv("LOG_LEVEL", "INFO").upper()
LOGGING = logging_config(log_format=LOG_FORMAT, level=LOG_LEVEL)
# Celery configures its loggers from the same dict (the `setup_logging` signal in
# agencyguard/celery.py) instead of replacing the root logger's handlers with its own.
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# /metrics (agencyguard/metrics.py) answers only a scraper that sends
# `Authorization: Bearer <METRICS_TOKEN>`; without the setting the endpoint does not exist.
METRICS_TOKEN = os.getenv("METRICS_TOKEN", "")
# The database counts behind the job and notice gauges are cached this long per process.
METRICS_DB_CACHE_S = envint("METRICS_DB_CACHE_S", "30")
# A scraper inside the deployment's network may speak plain HTTP to gunicorn.
SECURE_REDIRECT_EXEMPT = [*_CORE_REDIRECT_EXEMPT, r"^metrics$"]

# Error reporting: Sentry (or a Sentry-compatible service) when a DSN is set; the SDK is
# not initialised otherwise. No personal data is sent (send_default_pii off).
SENTRY_DSN = os.getenv("SENTRY_DSN", "")
SENTRY_ENVIRONMENT = os.getenv("SENTRY_ENVIRONMENT", "development" if DEBUG else "production")
SENTRY_TRACES_SAMPLE_RATE = float(os.getenv("SENTRY_TRACES_SAMPLE_RATE", "0"))

# Beat touches this file on every pass of its scheduler loop (agencyguard/beat.py);
# `docker/healthcheck.py file` checks its age. The loop wakes at least this often.
BEAT_HEARTBEAT_FILE = os.getenv("BEAT_HEARTBEAT_FILE", str(VAR_DIR / "beat-heartbeat"))
CELERY_BEAT_SCHEDULER = "agencyguard.beat:HeartbeatScheduler"
CELERY_BEAT_MAX_LOOP_INTERVAL = envint("CELERY_BEAT_MAX_LOOP_INTERVAL", "60")
if SENTRY_DSN:
    from agencyguard.sentry import sentry_init

    sentry_init(
        dsn=SENTRY_DSN,
        environment=SENTRY_ENVIRONMENT,
        traces_sample_rate=SENTRY_TRACES_SAMPLE_RATE,
    )
