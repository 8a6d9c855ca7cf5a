"""Slow clients against the real thing: gunicorn with one sync worker, with and without the
nginx of docker/nginx.conf in front. Six connections that never finish their headers hold a
bare gunicorn; behind nginx the same six cost gunicorn nothing."""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_deploy_proxy import NGINX, PROXY_HEADERS

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed"),
]
ROOT = Path(__file__).resolve().parent.parent
SLOW_CLIENTS = 6


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "the server exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"nothing listens on port {port}")


def _healthz(port: int, timeout: float) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", "/healthz", headers={"Host": "localhost"})
        return connection.getresponse().status
    finally:
        connection.close()


def _slow_clients(port: int) -> list[socket.socket]:
    """Connections that send the start of their headers and then nothing more."""
    clients = []
    for _ in range(SLOW_CLIENTS):
        client = socket.create_connection(("127.0.0.1", port), timeout=5)
        client.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Slow: ")
        clients.append(client)
    time.sleep(0.5)
    return clients


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def gunicorn(tmp_path) -> Iterator[int]:  # type: ignore[no-untyped-def]
    port = _free_port()
    env = {**os.environ, "VAR_DIR": str(tmp_path / "var"), "DEBUG": "1"}
    env.pop("DATABASE_URL", None)  # /healthz touches no database
    process = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "agencyguard.wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--workers", "1", "--worker-class", "sync",
            "--timeout", "60",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_for_port(port, process)
        assert _healthz(port, timeout=30) == 200
        yield port
    finally:
        _stop(process)


@pytest.fixture
def nginx(tmp_path, gunicorn) -> Iterator[int]:  # type: ignore[no-untyped-def]
    http_port, https_port = _free_port(), _free_port()
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
            "-subj", "/CN=localhost",
            "-keyout", str(tmp_path / "privkey.pem"), "-out", str(tmp_path / "fullchain.pem"),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    (tmp_path / "agencyguard-proxy.conf").write_text(PROXY_HEADERS)
    config = (
        NGINX.replace("server web:8000;", f"server 127.0.0.1:{gunicorn};")
        .replace("listen 80;", f"listen 127.0.0.1:{http_port};")
        .replace("listen 443 ssl", f"listen 127.0.0.1:{https_port} ssl")
        .replace("/etc/nginx/certs/", f"{tmp_path}/")
        .replace("/etc/nginx/agencyguard-proxy.conf", str(tmp_path / "agencyguard-proxy.conf"))
        .replace("pid /tmp/nginx.pid;", f"pid {tmp_path}/nginx.pid;")
        .replace("access_log /dev/stdout;", "access_log off;")
    )
    (tmp_path / "nginx.conf").write_text(config)
    process = subprocess.Popen(
        ["nginx", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_port(http_port, process)
        yield http_port
    finally:
        _stop(process)


def test_slow_clients_hold_a_bare_gunicorn(gunicorn) -> None:  # type: ignore[no-untyped-def]
    # The contrary case: what the proxy is for.
    clients = _slow_clients(gunicorn)
    try:
        with pytest.raises(TimeoutError):
            _healthz(gunicorn, timeout=3)
    finally:
        for client in clients:
            client.close()


def test_behind_nginx_slow_clients_cost_gunicorn_nothing(nginx) -> None:  # type: ignore[no-untyped-def]
    clients = _slow_clients(nginx)
    try:
        started = time.monotonic()
        assert _healthz(nginx, timeout=3) == 200
        assert time.monotonic() - started < 3
    finally:
        for client in clients:
            client.close()
