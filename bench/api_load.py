"""The findings API under load: 30 concurrent clients (BENCH_API_CLIENTS), each with its own
user and token in one agency, POST findings to /api/findings/ (a connection per request, as from a proxy) to
gunicorn on the bench database (the embedded stack of `make run`: DEBUG on, the filesystem
broker, no worker needed). Clients come in pairs that send the same URLs at the same moment,
so the run also proves deduplication under concurrency: each URL must end as exactly one
finding, answered once 201 (created) and once 200 (`duplicate: true`).

Prints p50 and p95 latency of the POSTs, throughput, errors (any other status or a broken
connection) and duplicates (findings recorded twice); exits 1 unless both are 0."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter

from common import ROOT, emit, note, percentile, setup_django

setup_django()

from django.db import transaction  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from cases.agency.services.tenancy import agency_create, membership_create  # noqa: E402
from cases.intake.models import Finding  # noqa: E402
from cases.kernel.models import Role  # noqa: E402

CLIENTS = int(os.getenv("BENCH_API_CLIENTS", "30"))
REQUESTS = int(os.getenv("BENCH_API_REQUESTS", "40"))  # per client
WORKERS = os.getenv("BENCH_API_WORKERS", "2")
THREADS = os.getenv("BENCH_API_THREADS", "4")
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def start_gunicorn(port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "CELERY_TASK_ALWAYS_EAGER": "0", "LOG_LEVEL": "WARNING"}
    server = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "agencyguard.wsgi:application",
            "--bind", f"{HOST}:{port}", "--workers", WORKERS, "--threads", THREADS,
            "--worker-class", "gthread", "--timeout", "60", "--log-level", "warning",
        ],
        cwd=ROOT, env=env,
    )  # fmt: skip
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit("gunicorn exited during start-up")
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return server
        except OSError:
            time.sleep(0.3)
    server.terminate()
    sys.exit("gunicorn did not answer /healthz within 90 s")


def tokens() -> list[str]:
    with transaction.atomic():
        agency = agency_create(name="Bench API Agency", slug="bench-api")
        keys = []
        for n in range(CLIENTS):
            user = membership_create(
                agency=agency, actor=None, username=f"bench.api{n}", email=f"api{n}@bench.example",
                password=None, role=Role.LEGAL,
            ).user  # fmt: skip
            keys.append(Token.objects.create(user=user).key)
    return keys


class Client(threading.Thread):
    def __init__(self, *, number: int, token: str, port: int, start: threading.Barrier) -> None:
        super().__init__(daemon=True)
        self.number, self.token, self.port, self.start_together = number, token, port, start
        self.latencies_ms: list[float] = []
        self.statuses: Counter[str] = Counter()

    def post(self, url: str) -> str:
        """One request on a connection of its own, as a proxy in front of gunicorn sends it
        (nginx opens one per request unless told to keep upstream connections alive)."""
        body = json.dumps({"url": url, "notes": "load"})
        headers = {"Authorization": f"Token {self.token}", "Content-Type": "application/json"}
        started = time.perf_counter()
        connection = http.client.HTTPConnection(HOST, self.port, timeout=60)
        try:
            connection.request("POST", "/api/findings/", body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        finally:
            connection.close()
        self.latencies_ms.append((time.perf_counter() - started) * 1000)
        if response.status == 200 and not json.loads(payload).get("duplicate"):
            return "200-not-duplicate"
        return str(response.status)

    def run(self) -> None:
        self.post(f"https://vimeo.com/warmup/{self.number}")  # not measured
        self.latencies_ms.clear()
        self.start_together.wait()
        for k in range(REQUESTS):
            # Clients 2j and 2j+1 send the same URL: one creates it, the other gets it back.
            url = f"https://vimeo.com/load/{self.number // 2}/{k}"
            try:
                self.statuses[self.post(url)] += 1
            except (OSError, http.client.HTTPException, ValueError) as exc:
                self.statuses[f"error:{type(exc).__name__}"] += 1


def main() -> int:
    keys = tokens()
    port = free_port()
    server = start_gunicorn(port)
    try:
        start = threading.Barrier(CLIENTS + 1)
        clients = [
            Client(number=n, token=key, port=port, start=start) for n, key in enumerate(keys)
        ]
        for client in clients:
            client.start()
        start.wait()
        began = time.perf_counter()
        for client in clients:
            client.join()
        seconds = time.perf_counter() - began
    finally:
        server.terminate()
        server.wait(timeout=30)

    latencies = [ms for client in clients for ms in client.latencies_ms]
    statuses: Counter[str] = Counter()
    for client in clients:
        statuses.update(client.statuses)
    urls = {f"https://vimeo.com/load/{n // 2}/{k}" for n in range(CLIENTS) for k in range(REQUESTS)}
    recorded = Finding.objects.filter(
        agency__slug="bench-api", url__startswith="https://vimeo.com/load/"
    )
    duplicates = recorded.count() - recorded.values("canonical_url").distinct().count()
    missing = len(urls) - recorded.values("canonical_url").distinct().count()
    errors = sum(n for status, n in statuses.items() if status not in ("200", "201"))
    note(
        f"{CLIENTS} clients x {REQUESTS} POSTs against gunicorn ({WORKERS} workers x {THREADS} "
        f"threads); answers {dict(sorted(statuses.items()))}; {len(urls)} distinct URLs, "
        f"{recorded.count()} findings, {missing} missing"
    )
    emit("api_create_p95_under_load", percentile(latencies, 95), "ms")
    emit("api_create_p50_under_load", percentile(latencies, 50), "ms")
    emit("api_create_throughput", len(latencies) / seconds, "requests/s")
    emit("api_create_errors", errors, "requests")
    emit("api_create_duplicates", duplicates, "rows")
    ok = errors == 0 and duplicates == 0 and missing == 0 and statuses["201"] == len(urls)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
