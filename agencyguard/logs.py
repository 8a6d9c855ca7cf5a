"""Log records as operators read them (docs/deploy.md "Logs"): every line has a UTC
timestamp, the level, the logger and the request id of the request or task it was written
for; `LOG_FORMAT=json` writes one JSON object per line for a log shipper.

Used by LOGGING in agencyguard/settings/ops.py (the web processes, `manage.py`) and by the
Celery worker and beat, which configure logging from the same dict (agencyguard/celery.py)."""

from __future__ import annotations

import logging
import time
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from cases.kernel.requestid import request_id_get

PLAIN_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"
# Field names of a JSON line (python-json-logger reads them from this format string).
JSON_FIELDS = "%(levelname)s %(name)s %(message)s %(request_id)s"
JSON_RENAMES = {"levelname": "level", "name": "logger", "exc_info": "exception"}


class RequestIdFilter(logging.Filter):
    """Adds `request_id` to every record ("-" outside a request or task), so both formats
    can name it. A filter never drops a record here."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", ""):
            record.request_id = request_id_get() or "-"
        return True


class UtcFormatter(logging.Formatter):
    """The plain format: ISO 8601 timestamps in UTC, whatever TIME_ZONE says."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{moment}.{int(record.msecs):03d}Z"


def json_formatter() -> JsonFormatter:
    """One JSON object per line: timestamp (ISO 8601, UTC), level, logger, message,
    request_id, and `exception` (the formatted traceback) when there is one."""
    return JsonFormatter(JSON_FIELDS, rename_fields=JSON_RENAMES, timestamp=True)


def logging_config(*, log_format: str, level: str) -> dict[str, Any]:
    """The LOGGING dict for `log_format` "json" or "plain" (anything else is plain)."""
    formatter: dict[str, Any] = (
        {"()": "agencyguard.logs.json_formatter"}
        if log_format == "json"
        else {"()": "agencyguard.logs.UtcFormatter", "format": PLAIN_FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "agencyguard.logs.RequestIdFilter"}},
        "formatters": {"default": formatter},
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "filters": ["request_id"],
                "formatter": "default",
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {"django.db.backends": {"level": "INFO"}},
    }
