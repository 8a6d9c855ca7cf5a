"""Container health check of `web`: GET /readyz (or the path given) from gunicorn over plain
HTTP, exit 0 on 200. Standard library only, no Django start-up.

The Host header is the first of ALLOWED_HOSTS (Django answers 400 to any other host); the
probe paths are exempt from the HTTPS redirect (SECURE_REDIRECT_EXEMPT in settings.py)."""

from __future__ import annotations

import http.client
import os
import sys


def probe_host() -> str:
    hosts = [h.strip() for h in os.getenv("ALLOWED_HOSTS", "").split(",") if h.strip()]
    host = hosts[0].lstrip(".") if hosts else "localhost"
    return "localhost" if host in ("", "*") else host


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else "/readyz"
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


if __name__ == "__main__":
    sys.exit(main())
