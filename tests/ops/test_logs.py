"""Log lines as a process writes them: LOG_FORMAT=json gives one JSON object per line,
anything else one readable line; both with a UTC timestamp, the level, the logger and the
request id. Run in a subprocess (a fresh logging configuration), set up the way the Celery
worker and beat set themselves up (`app.log.setup`, the `setup_logging` signal)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = """
import logging
import django
from agencyguard.celery import app
django.setup()
app.log.setup(loglevel="INFO")  # what `celery worker` and `celery beat` do at start
from cases.kernel.requestid import request_id_bound
with request_id_bound("req-0123456789"):
    logging.getLogger("celery.task").info("hello %s", "world")
    try:
        1 / 0
    except ZeroDivisionError:
        logging.getLogger("cases.something").exception("it broke")
logging.getLogger("cases.other").warning("outside any request")
"""


def run(log_format: str) -> list[str]:
    env = {**os.environ, "LOG_FORMAT": log_format, "DJANGO_SETTINGS_MODULE": "agencyguard.settings"}
    env.pop("SENTRY_DSN", None)
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [line for line in done.stderr.splitlines() if line.strip()]


def test_json_logs_are_one_object_per_line_with_the_request_id() -> None:
    lines = [json.loads(line) for line in run("json")]
    hello, broke, outside = _find(lines)
    assert hello["message"] == "hello world"
    assert hello["level"] == "INFO"
    assert hello["logger"] == "celery.task"
    assert hello["request_id"] == "req-0123456789"
    moment = datetime.fromisoformat(hello["timestamp"])
    assert moment.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - moment) < timedelta(minutes=5)

    assert broke["level"] == "ERROR"
    assert broke["request_id"] == "req-0123456789"
    assert "ZeroDivisionError: division by zero" in broke["exception"]
    assert outside["request_id"] == "-"


def _find(lines: list[dict[str, str]]) -> tuple[dict[str, str], ...]:
    """The three lines of the script among any the start-up wrote."""
    by_message = {line["message"]: line for line in lines}
    return (by_message["hello world"], by_message["it broke"], by_message["outside any request"])


def test_plain_logs_have_timestamp_level_and_request_id() -> None:
    lines = run("plain")
    hello = next(line for line in lines if "hello world" in line)
    assert re.fullmatch(
        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z INFO \[req-0123456789\] celery\.task: hello world",
        hello,
    )
    broke = lines.index(next(line for line in lines if "it broke" in line))
    assert " ERROR [req-0123456789] cases.something: it broke" in lines[broke]
    assert "ZeroDivisionError: division by zero" in "\n".join(lines[broke:])
    assert any(line.endswith("WARNING [-] cases.other: outside any request") for line in lines)
