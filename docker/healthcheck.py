"""Container health checks. Standard library only, no Django start-up.

    healthcheck.py [/readyz]                       web: GET the path from gunicorn, 0 on 200
    healthcheck.py file PATH [MAX_AGE_S]           beat: 0 while PATH was modified within
                                                   MAX_AGE_S seconds (default 180)

For web, the Host header is the first of ALLOWED_HOSTS (Django answers 400 to any other
host); the probe paths are exempt from the HTTPS redirect (SECURE_REDIRECT_EXEMPT in
agencyguard/settings/). For beat, the file is the heartbeat its scheduler loop refreshes on
every pass (agencyguard/beat.py, BEAT_HEARTBEAT_FILE); docs/deploy.md "Health checks"."""

from __future__ import annotations

import http.client
import os
import sys
import time
from pathlib import Path

DEFAULT_MAX_AGE_S = 180.0


def probe_host() -> str:
    hosts = [h.strip() for h in os.getenv("ALLOWED_HOSTS", "").split(",") if h.strip()]
    host = hosts[0].lstrip(".") if hosts else "localhost"
    return "localhost" if host in ("", "*") else host


def check_http(path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", int(os.getenv("PORT", "8000")), timeout=5)
    try:
        connection.request("GET", path, headers={"Host": probe_host()})
        response = connection.getresponse()
        body = response.read(2000).decode(errors="replace")
    except OSError as error:
        print(f"{path}: {error}", file=sys.stderr)
        return 1
    finally:
        connection.close()
    if response.status != 200:
        print(f"{path}: HTTP {response.status} {body}", file=sys.stderr)
        return 1
    return 0


def file_age(path: str, *, now: float | None = None) -> float | None:
    """Seconds since `path` was last modified; None when it does not exist."""
    try:
        modified = Path(path).stat().st_mtime
    except FileNotFoundError:
        return None
    return (time.time() if now is None else now) - modified


def check_file(path: str, max_age_s: float, *, now: float | None = None) -> int:
    age = file_age(path, now=now)
    if age is None:
        print(f"{path}: missing (the process has not started its loop)", file=sys.stderr)
        return 1
    if age > max_age_s:
        print(f"{path}: last refreshed {age:.0f} s ago (limit {max_age_s:.0f} s)", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    if argv and argv[0] == "file":
        if len(argv) < 2:
            print("usage: healthcheck.py file PATH [MAX_AGE_S]", file=sys.stderr)
            return 2
        max_age = float(argv[2]) if len(argv) > 2 else DEFAULT_MAX_AGE_S
        return check_file(argv[1], max_age)
    return check_http(argv[0] if argv else "/readyz")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
