"""Issue 11: every URL the parser chokes on is an invalid-URL error with the reason, in the
finding form, the fan report, the API and each row of an import; never a 500."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.urls import reverse
from rest_framework.test import APIClient

from cases.evidence.capture.media import media_candidates
from cases.intake.canonical import InvalidURL, canonicalize_url, host_of
from cases.intake.models import FanReport, Finding, ImportJob, ImportJobStatus
from cases.intake.services.imports import ImportRejected, import_job_create, import_job_run

pytestmark = pytest.mark.django_db

HOSTILE_URLS = [
    "http://[::1/",
    "http://[",
    "[::1/",
    "http://user@[::1/",
    "http://a.com]/",
    "http://[zz]/",
    "http://[:::]/",
    "http://[::1]x/",
    "http://[v1.x]/",
    "http://a:99999999/",
    "http://a.com:-1/",
    "http://:80",
    "http://%zz/",
    "http://a..b/",
    "\x00",
    "http://example.com/\x00",
    "http://example.com/" + "a" * 5000,
    "ftp://example.com/a",
    "javascript:alert(1)",
    "data:text/html,hi",
    "file:///etc/passwd",
    "http://[fe80::1%25eth0]/",
    "http://[fe80::1%25" + "a" * 300 + "]/",
    "http://" + "a." * 130 + "com/",
]


def _api(user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_login(user)
    return client


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_canonicalize_turns_every_parse_error_into_invalid_url(url: str) -> None:
    with pytest.raises(InvalidURL) as caught:
        canonicalize_url(url)
    assert str(caught.value)  # a reason for the user


def test_a_bracket_followed_by_junk_is_not_silently_dropped() -> None:
    with pytest.raises(InvalidURL):
        canonicalize_url("http://[::1]evil.example/")
    assert canonicalize_url("http://[2606:4700::1]:8080/a") == "http://[2606:4700::1]:8080/a"


def test_host_of_never_raises() -> None:
    assert host_of("http://[::1/") == ""
    assert host_of("https://example.com/a") == "example.com"


@pytest.mark.parametrize("url", ["http://[::1/", "http://[", "http://[zz]/", "http://a:99999999/"])
def test_the_finding_form_shows_a_field_error(client, bob, url: str) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    response = client.post(reverse("finding_create"), {"url": url})
    assert response.status_code == 200
    assert response.context["form"].errors["url"]
    assert Finding.objects.count() == 0


@pytest.mark.parametrize("url", ["http://[::1/", "http://[", "http://[zz]/", "http://a:99999999/"])
def test_the_fan_report_shows_a_field_error(client, agency, url: str) -> None:  # type: ignore[no-untyped-def]
    cache.clear()  # the page is rate-limited per client
    response = client.post(
        reverse("fan_report", args=["aurora"]),
        {"url": url, "artist": "", "description": "", "contact": "", "website": ""},
    )
    cache.clear()
    assert response.status_code == 200
    assert response.context["form"].errors["url"]
    assert FanReport.objects.count() == 0 and Finding.objects.count() == 0


@pytest.mark.parametrize("url", ["http://[::1/", "http://[", "http://[zz]/", "http://a:99999999/"])
def test_the_api_answers_400_with_the_reason(bob, url: str) -> None:  # type: ignore[no-untyped-def]
    response = _api(bob).post(reverse("api:finding-list"), {"url": url}, format="json")
    assert response.status_code == 400
    assert response.json()["url"]
    assert Finding.objects.count() == 0


def test_an_import_reports_the_bad_row_and_imports_the_rest(agency, bob) -> None:  # type: ignore[no-untyped-def]
    text = "url\nhttps://example.com/one\nhttp://[::1/\nhttp://[zz]/\nhttps://example.com/two\n"
    job = import_job_create(agency=agency, actor=bob, text=text, filename="t.csv")
    job = import_job_run(job_id=job.pk)
    outcomes = {row: (outcome, reason) for row, outcome, _fid, reason in job.report}
    assert outcomes[2][0] == "created" and outcomes[5][0] == "created"
    assert outcomes[3][0] == "invalid" and "Invalid IPv6 URL" in outcomes[3][1]
    assert outcomes[4][0] == "invalid" and outcomes[4][1]
    assert (job.created_count, job.invalid_count) == (2, 2)
    assert job.status == "done"
    assert Finding.objects.count() == 2


def test_media_candidates_skip_urls_the_page_wrote_that_cannot_be_parsed() -> None:
    html = '<base href="http://[::1/"><img src="http://["><img src="http://[zz]/a.jpg"><img src="/ok.jpg">'
    found = media_candidates(html, "https://example.com/post", limit=5)
    assert [candidate.url for candidate in found] == ["https://example.com/ok.jpg"]


def test_a_failed_import_never_claims_every_row_was_imported(client, agency, bob) -> None:  # type: ignore[no-untyped-def]
    job = import_job_create(agency=agency, actor=bob, text="url\nhttps://example.com/a\n")
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJobStatus.FAILED, error="boom")
    client.force_login(bob)
    page = client.get(reverse("import_detail", args=[job.pk])).content.decode()
    assert "Every row was imported" not in page
    assert "before the import stopped" in page


def test_a_page_past_the_problem_rows_does_not_claim_every_row_was_imported(
    client, agency, bob
) -> None:  # type: ignore[no-untyped-def]
    job = import_job_create(agency=agency, actor=bob, text="url\nhttp://[::1/\n")
    import_job_run(job_id=job.pk)
    client.force_login(bob)
    page = client.get(reverse("import_detail", args=[job.pk]), {"page": 9}).content.decode()
    assert "Every row was imported" not in page


def test_an_import_of_only_hostile_urls_reports_each_row_and_finishes(agency, bob) -> None:  # type: ignore[no-untyped-def]
    lines = [url for url in HOSTILE_URLS if "\x00" not in url]  # refused whole: see below
    text = "url\n" + "\n".join(f'"{url}"' for url in lines) + "\nhttps://example.com/ok\n"
    job = import_job_create(agency=agency, actor=bob, text=text, filename="t.csv")
    job = import_job_run(job_id=job.pk)
    assert job.status == "done"
    outcomes = {row: (outcome, reason) for row, outcome, _fid, reason in job.report}
    for row in range(2, 2 + len(lines)):
        assert outcomes[row][0] == "invalid" and outcomes[row][1], (row, outcomes[row])
    assert outcomes[2 + len(lines)][0] == "created"
    assert (job.created_count, job.invalid_count) == (1, len(lines))


def test_an_import_with_a_nul_character_is_refused_before_anything_is_stored(agency, bob) -> None:  # type: ignore[no-untyped-def]
    # PostgreSQL cannot store NUL in text: the job would fail to save with a 500.
    with pytest.raises(ImportRejected, match="binary data"):
        import_job_create(agency=agency, actor=bob, text="url\nhttp://example.com/\x00\n")
    assert ImportJob.objects.count() == 0


def test_pasted_lines_with_a_nul_character_are_a_form_error(client, bob) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    response = client.post(reverse("import_create"), {"lines": "http://example.com/\x00"})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert not ImportJob.objects.exists()
