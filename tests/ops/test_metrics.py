"""/metrics answers only a scraper holding METRICS_TOKEN, and what it says is aggregate:
counts per queue, job type and status, never an agency's name, a user or a URL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from agencyguard import metrics
from cases.intake.services.imports import import_job_create

TOKEN = "scrape-9b1e4c7d2a"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _token(settings) -> None:  # type: ignore[no-untyped-def]
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_DB_CACHE_S = 0
    metrics._cache.update(at=None, counts=None)


def scrape(client: Client, token: str | None = TOKEN) -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    response = client.get("/metrics", headers=headers)
    return response.status_code, response.content.decode()


def samples(text: str) -> dict[str, float]:
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def test_without_a_configured_token_the_endpoint_does_not_exist(client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.METRICS_TOKEN = ""
    assert scrape(client)[0] == 404
    assert scrape(client, token="")[0] == 404


def test_a_missing_token_is_401_with_a_challenge(client) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/metrics")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Basic " + TOKEN, "Bearer", "Bearer ", TOKEN])
def test_a_malformed_authorization_is_401(client, header: str) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/metrics", headers={"Authorization": header}).status_code == 401


@pytest.mark.parametrize("wrong", [TOKEN[:-1], TOKEN + "x", TOKEN.upper(), "완전히-틀림"])
def test_a_wrong_token_is_403(client, wrong: str) -> None:  # type: ignore[no-untyped-def]
    assert scrape(client, token=wrong)[0] == 403


def test_a_logged_in_admin_without_the_token_gets_nothing(client, alice, mallory) -> None:  # type: ignore[no-untyped-def]
    for user in (alice, mallory):
        client.force_login(user)
        assert scrape(client, token=None)[0] == 401


def test_the_scraper_gets_request_queue_job_and_notice_metrics(
    client, agency, bob, finding, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):  # eager: the import runs
        import_job_create(agency=agency, actor=bob, text="https://vimeo.com/1")
    client.get("/healthz")
    status, text = scrape(client)
    assert status == 200
    values = samples(text)
    assert values['agencyguard_http_requests_total{method="GET",status="200",view="healthz"}'] >= 1
    assert any(k.startswith("agencyguard_http_request_duration_seconds_bucket") for k in values)
    assert values["agencyguard_queue_depth_available"] == 1
    assert values["agencyguard_database_counts_available"] == 1
    for queue in ("default", "capture", "detection", "reports"):
        assert f'agencyguard_queue_depth{{queue="{queue}"}}' in values
    assert values['agencyguard_jobs{status="done",type="importjob"}'] == 1
    assert "# TYPE agencyguard_notices gauge" in text


def test_metrics_name_no_agency_user_or_url(client, agency, other_agency, bob, finding) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    assert client.get(reverse("finding_detail", args=[finding.pk])).status_code == 200
    client.logout()
    text = scrape(client)[1]
    for private in (agency.name, agency.slug, other_agency.name, bob.username, finding.url):
        assert private not in text
    assert f"/{finding.pk}/" not in text


def test_queue_depth_counts_filesystem_broker_messages(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path)}
    for name in ("1_a.capture.msg", "2_b.capture.msg", "3_c.default.msg", "4_d.other.msg"):
        (tmp_path / name).write_text("{}")
    assert metrics.queue_depths() == {"capture": 2, "default": 1, "detection": 0, "reports": 0}


def test_queue_depth_is_unavailable_for_other_brokers(settings) -> None:  # type: ignore[no-untyped-def]
    settings.CELERY_BROKER_URL = "amqp://guest@localhost//"
    assert metrics.queue_depths() is None


def test_queue_depth_is_unavailable_when_redis_is_down(settings) -> None:  # type: ignore[no-untyped-def]
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    assert metrics.queue_depths() is None


MULTIPROCESS_SCRIPT = """
import django
django.setup()
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
client = Client()
client.get("/healthz")
response = client.get("/metrics", headers={"Authorization": "Bearer %s"})
print(response.status_code)
print(response.content.decode())
"""


def test_multiprocess_mode_reports_requests_from_the_shared_folder(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """gunicorn's processes each write their counters under PROMETHEUS_MULTIPROC_DIR."""
    (tmp_path / "prometheus").mkdir()
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prometheus"),
        "VAR_DIR": str(tmp_path / "var"),  # an empty database: the counts are unavailable
        "METRICS_TOKEN": TOKEN,
        "DJANGO_SETTINGS_MODULE": "agencyguard.settings",
    }
    done = subprocess.run(
        [sys.executable, "-c", MULTIPROCESS_SCRIPT % TOKEN],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    status, _, text = done.stdout.partition("\n")
    assert status == "200"
    assert 'agencyguard_http_requests_total{method="GET",status="200",view="healthz"} 1.0' in text
    assert "agencyguard_database_counts_available 0.0" in text
    assert any(path.suffix == ".db" for path in (tmp_path / "prometheus").iterdir())
