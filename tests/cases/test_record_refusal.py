"""Issue 12: a URL whose host the capture policy refuses (loopback, private, link-local,
reserved, local names) is refused when it is recorded, in every intake path, with the
policy's own reason; the test-only loopback switch allows loopback there as at capture."""

from __future__ import annotations

import html
import socket

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from cases.evidence.services.captures import capture_policy
from cases.intake.canonical import InvalidURL, UrlRules, canonicalize_url
from cases.intake.models import FanReport, Finding
from cases.intake.services.findings import finding_record
from cases.intake.services.imports import import_job_create, import_job_run
from cases.kernel.net.policy import PolicyRefused, check_url

pytestmark = pytest.mark.django_db

REFUSED = [
    "http://127.0.0.1:8000/admin/",
    "http://10.0.0.5/",
    "http://192.168.1.1/router",
    "http://172.16.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/",
    "http://0.0.0.0/",
    "http://224.0.0.1/",
    "http://240.0.0.1/",
    "http://192.0.2.10/",
    "http://0x7f.1/",
    "http://0177.0.0.1/",
    "http://127.1/",
    "http://[::1]/",
    "http://[fe80::1]/",
    "http://[fc00::1]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:10.0.0.1]/",
    "http://[2001:db8::1]/",
    "http://localhost/",
    "http://LOCALHOST./x",
    "http://admin.localhost/",
    "http://1.2.3.999/",
]


def _policy_reason(url: str) -> str:
    """What a capture of `url` says (the policy's reason, ports aside)."""
    with pytest.raises(PolicyRefused) as refused:
        check_url(url.replace(":8000", ""), capture_policy())
    return refused.value.reason


@pytest.fixture(autouse=True)
def _no_dns(monkeypatch):  # type: ignore[no-untyped-def]
    """Recording never resolves a name: only literals and local names are refused."""

    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError(f"DNS lookup at record time: {args}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "gethostbyname", refuse)


@pytest.mark.parametrize("url", REFUSED)
def test_recording_refuses_what_capture_refuses_with_the_same_reason(url: str) -> None:
    reason = _policy_reason(url)
    with pytest.raises(InvalidURL) as caught:
        canonicalize_url(url)
    assert str(caught.value) == f"The network policy refuses this host: {reason}"


@pytest.mark.parametrize(
    "url",
    [
        "http://8.8.8.8/x",
        "https://[2606:4700:4700::1111]/x",
        "https://example.com:8080/x",  # a port capture refuses is still a recordable URL
        "https://internal.example.com/x",  # not resolved: its address is checked at capture
        "https://127.0.0.1.nip.io/x",
    ],
)
def test_public_addresses_and_names_are_recorded(url: str, agency, bob) -> None:  # type: ignore[no-untyped-def]
    _finding, created = finding_record(agency=agency, url=url, actor=bob)
    assert created


def test_the_loopback_switch_allows_loopback_only_as_at_capture(settings, agency, bob) -> None:  # type: ignore[no-untyped-def]
    settings.CAPTURE_ALLOW_LOOPBACK_FOR_TESTS = True
    finding, created = finding_record(agency=agency, url="http://127.0.0.1:8000/page", actor=bob)
    assert created and finding.host == "127.0.0.1"
    assert finding_record(agency=agency, url="http://[::1]:9/x", actor=bob)[1]
    for url in ["http://10.0.0.5/", "http://[::ffff:127.0.0.1]/", "http://169.254.169.254/"]:
        with pytest.raises(InvalidURL, match="network policy"):
            finding_record(agency=agency, url=url, actor=bob)
    # localhost passes the policy with the switch but is still no public domain name.
    with pytest.raises(InvalidURL, match="not a public domain name"):
        finding_record(agency=agency, url="http://localhost:8000/", actor=bob)
    assert canonicalize_url("http://127.0.0.1/", UrlRules(allow_loopback=True))
    with pytest.raises(InvalidURL):
        canonicalize_url("http://127.0.0.1/", UrlRules(allow_loopback=False))


@pytest.mark.parametrize("url", ["http://127.0.0.1:8000/admin/", "http://10.0.0.5/"])
def test_the_record_form_refuses_with_the_reason(client, bob, url: str) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    response = client.post(reverse("finding_create"), {"url": url})
    assert response.status_code == 200
    assert html.escape(_policy_reason(url)) in response.content.decode()
    assert not Finding.objects.exists()


def test_the_fan_report_refuses_with_the_reason(client, agency) -> None:  # type: ignore[no-untyped-def]
    url = "http://169.254.169.254/latest/meta-data/"
    response = client.post(
        reverse("fan_report", args=["aurora"]),
        {"url": url, "artist": "", "description": "", "contact": "", "website": ""},
    )
    assert response.status_code == 200
    assert html.escape(_policy_reason(url)) in response.content.decode()
    assert not Finding.objects.exists() and not FanReport.objects.exists()


def test_the_api_refuses_with_the_reason(bob) -> None:  # type: ignore[no-untyped-def]
    api = APIClient()
    api.force_login(bob)
    url = "http://[::ffff:10.0.0.1]/"
    response = api.post(reverse("api:finding-list"), {"url": url}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "url": [f"The network policy refuses this host: {_policy_reason(url)}"]
    }
    assert not Finding.objects.exists()


def test_an_import_refuses_such_rows_one_by_one_and_finishes(agency, bob) -> None:  # type: ignore[no-untyped-def]
    text = "\n".join(
        [
            "url",
            "https://example.com/one",
            "http://127.0.0.1:8000/admin/",
            "http://10.0.0.5/",
            "https://example.com/two",
            "http://localhost/",
        ]
    )
    job = import_job_create(agency=agency, actor=bob, text=text)
    job = import_job_run(job_id=job.pk)
    assert job is not None and job.status == "done"
    assert (job.created_count, job.invalid_count) == (2, 3)
    reasons = {row[0]: row[3] for row in job.report if row[1] == "invalid"}
    assert reasons == {
        3: f"The network policy refuses this host: {_policy_reason('http://127.0.0.1/')}",
        4: f"The network policy refuses this host: {_policy_reason('http://10.0.0.5/')}",
        6: f"The network policy refuses this host: {_policy_reason('http://localhost/')}",
    }
    assert set(Finding.objects.values_list("host", flat=True)) == {"example.com"}
