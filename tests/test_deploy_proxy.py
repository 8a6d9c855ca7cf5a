"""The deployment puts a buffering nginx in front of gunicorn (docker/nginx.conf): only the
proxy publishes ports, slow clients time out there, bodies are limited per path (and above
every limit the app itself allows), and the client's address reaches the rate limits.

Docker is not available in the tests: the compose file and the nginx configuration are read
as text here, and `nginx -t` checks the configuration where nginx is installed
(scripts/test.sh installs it)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.urls import reverse

DOCKER = Path(__file__).resolve().parent.parent / "docker"
NGINX = (DOCKER / "nginx.conf").read_text()
PROXY_HEADERS = (DOCKER / "nginx-proxy.conf").read_text()
UNITS = {"k": 1024, "m": 1024 * 1024}


def _compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def _bytes(size: str) -> int:
    return int(size[:-1]) * UNITS[size[-1]]


def _location(pattern: str) -> str:
    """The body of the first location block whose line contains `pattern`."""
    start = NGINX.index(pattern)
    return NGINX[start : NGINX.index("}", start)]


def _body_limit_for(path: str) -> int:
    """The client_max_body_size nginx applies to `path` on the HTTPS server (a simplified
    nginx matcher: exact, then ^~ prefix, then regex, then the http-level default)."""
    tls = NGINX[NGINX.index("listen 443") :]
    default = _bytes(re.search(r"^    client_max_body_size (\S+);", NGINX, re.M)[1])  # type: ignore[index]
    blocks = re.findall(r"location (=|\^~|~) (\S+) \{(.*?)\}", tls, re.S)
    for kind in ("=", "^~", "~"):
        for block_kind, pattern, body in blocks:
            if block_kind != kind:
                continue
            hit = {
                "=": path == pattern,
                "^~": path.startswith(pattern),
                "~": re.search(pattern, path) is not None,
            }[kind]
            if hit:
                size = re.search(r"client_max_body_size (\S+);", body)
                return _bytes(size[1]) if size else default
    return default


def test_only_the_proxy_publishes_ports() -> None:
    services = _compose()["services"]
    assert "ports" not in services["web"]
    for name in ("web", "worker", "beat", "migrate", "postgres", "redis"):
        assert "ports" not in services[name], name
    assert services["proxy"]["ports"] == ["${HTTP_PORT:-80}:80", "${HTTPS_PORT:-443}:443"]
    volumes = services["proxy"]["volumes"]
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in volumes
    assert "./nginx-proxy.conf:/etc/nginx/agencyguard-proxy.conf:ro" in volumes
    assert services["proxy"]["depends_on"]["web"]["condition"] == "service_healthy"
    assert services["web"]["environment"]["TRUSTED_PROXY_COUNT"] == "1"


def test_slow_clients_time_out_in_nginx_and_requests_are_buffered() -> None:
    for directive in (
        "client_header_timeout 10s;",
        "client_body_timeout 30s;",
        "send_timeout 60s;",
        "proxy_request_buffering on;",
        "proxy_buffering on;",
        "server web:8000;",
    ):
        assert directive in NGINX
    # Longer than gunicorn's own --timeout, so gunicorn answers first.
    assert "proxy_read_timeout 90s;" in NGINX
    assert '--timeout "${GUNICORN_TIMEOUT:-60}"' in (DOCKER / "entrypoint.sh").read_text()


def test_the_address_and_scheme_reach_the_app_and_the_client_cannot_forge_them() -> None:
    assert "proxy_set_header X-Real-IP $remote_addr;" in PROXY_HEADERS
    # Overwritten, not appended to ($proxy_add_x_forwarded_for would keep a forged list).
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in PROXY_HEADERS
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in PROXY_HEADERS
    assert settings.SECURE_PROXY_SSL_HEADER == ("HTTP_X_FORWARDED_PROTO", "https")
    assert NGINX.count("include /etc/nginx/agencyguard-proxy.conf;") == NGINX.count("proxy_pass ")


def test_health_probes_pass_on_plain_http_and_everything_else_goes_to_https() -> None:
    plain = NGINX[NGINX.index("listen 80;") : NGINX.index("listen 443")]
    assert "location = /healthz { proxy_pass http://agencyguard_web;" in plain
    assert "location = /readyz { proxy_pass http://agencyguard_web;" in plain
    assert "return 301 https://$host$request_uri;" in plain


def test_body_limits_per_path_cover_what_the_app_accepts_and_no_more() -> None:
    fan_report = reverse("fan_report", args=["aurora"])
    # Text fields plus one screenshot of at most FAN_SCREENSHOT_MAX_BYTES (4 MiB).
    assert settings.FAN_SCREENSHOT_MAX_BYTES < settings.FAN_REPORT_MAX_BYTES
    assert settings.FAN_REPORT_MAX_BYTES <= _body_limit_for(fan_report) <= 6 * 1024 * 1024
    assert _body_limit_for(reverse("import_create")) > settings.IMPORT_MAX_BYTES
    for path in (
        reverse("evidence_upload", args=[7]),
        reverse("reference_media_create", args=[7]),
        reverse("notice_submission", args=[7]),
        reverse("api:notice-submission", args=[7]),
    ):
        assert _body_limit_for(path) > settings.EVIDENCE_UPLOAD_MAX_BYTES, path
    # Everything else stays small.
    for path in ("/", "/login/", reverse("finding_create"), "/api/findings/", "/imports/"):
        assert _body_limit_for(path) == 2 * 1024 * 1024, path
    # The matcher above tells the locations apart (so this test can fail).
    assert _body_limit_for("/findings/7/evidence/upload/extra/") == 2 * 1024 * 1024


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed")
def test_nginx_accepts_the_configuration(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # The container paths and the `web` host exist only under compose: point them here.
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
        NGINX.replace("server web:8000;", "server 127.0.0.1:8000;")
        .replace("/etc/nginx/certs/", f"{tmp_path}/")
        .replace("/etc/nginx/agencyguard-proxy.conf", str(tmp_path / "agencyguard-proxy.conf"))
        .replace("pid /tmp/nginx.pid;", f"pid {tmp_path}/nginx.pid;")
    )
    (tmp_path / "nginx.conf").write_text(config)
    result = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr
