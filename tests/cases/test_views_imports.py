"""Bulk import through the web UI: pasted lines and CSV uploads, progress, per-row report."""

from __future__ import annotations

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cases.intake.models import Finding, FindingSource, ImportJob, ImportJobStatus
from cases.intake.services.imports import import_job_create, import_job_run
from cases.kernel.jobs import job_fail
from cases.kernel.models import AuditEvent
from tests.factories import make_finding

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _post_import(client, django_capture_on_commit_callbacks, data):  # type: ignore[no-untyped-def]
    # The job is queued on commit; with eager Celery the callback runs the whole import.
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(reverse("import_create"), data)


def test_pasted_lines_are_imported_with_a_per_row_report(
    client, bob, agency, finding, django_capture_on_commit_callbacks
):
    client.force_login(bob)
    lines = "\n".join(
        [
            "https://vimeo.com/1",
            "https://vimeo.com/2?utm_source=x",
            "https://www.youtube.com/watch?v=aurora-secret-1",  # recorded before
            "https://vimeo.com/1#again",  # same as row 1
            "ftp://files.example.com/x",
            "",
            "mailto:someone@example.com",
        ]
    )
    response = _post_import(client, django_capture_on_commit_callbacks, {"lines": lines})
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("import_detail", args=[job.pk])
    assert job.status == ImportJobStatus.DONE
    assert (job.created_count, job.duplicate_count, job.invalid_count) == (2, 2, 2)
    assert Finding.objects.filter(source=FindingSource.IMPORT).count() == 2

    content = client.get(reverse("import_detail", args=[job.pk])).content.decode()
    assert '<progress max="100" value="100"' in content
    assert "every 1s" not in content  # a finished job is not polled
    assert "already recorded" in content
    assert "same URL as row 1" in content
    assert "Only http and https URLs can be recorded (got &#x27;ftp:&#x27;)" in content
    assert reverse("finding_detail", args=[finding.pk]) in content
    assert reverse("import_report", args=[job.pk]) in content


def test_csv_upload_reports_malformed_rows_and_warns_of_unknown_artists(
    client, bob, artist, django_capture_on_commit_callbacks
):
    client.force_login(bob)
    data = (
        b"url,artist\n"
        b"https://vimeo.com/10,Yuna\n"
        b'"https://vimeo.com/11,Yuna\n'  # an unterminated quote
        b"https://vimeo.com/12,Nobody\n"
        b",Yuna\n"
    )
    upload = SimpleUploadedFile("list.csv", data, content_type="text/csv")
    _post_import(client, django_capture_on_commit_callbacks, {"file": upload})
    job = ImportJob.objects.get()
    assert job.filename == "list.csv"
    assert (job.created_count, job.warning_count, job.invalid_count) == (1, 1, 2)
    created = Finding.objects.get(source=FindingSource.IMPORT, url="https://vimeo.com/10")
    assert list(created.artists.all()) == [artist]
    warned = Finding.objects.get(source=FindingSource.IMPORT, url="https://vimeo.com/12")
    assert not warned.artists.exists()  # left for review
    content = client.get(reverse("import_detail", args=[job.pk])).content.decode()
    assert "malformed CSV" in content
    assert "artist &#x27;Nobody&#x27; not on the roster; left for review" in content
    assert "The URL is empty." in content


def test_korean_excel_csv_in_cp949_is_read(client, bob, django_capture_on_commit_callbacks):
    client.force_login(bob)
    data = "주소\nhttps://vimeo.com/20\n".encode("cp949")
    _post_import(
        client,
        django_capture_on_commit_callbacks,
        {"file": SimpleUploadedFile("목록.csv", data, content_type="text/csv")},
    )
    assert ImportJob.objects.get().created_count == 1


def test_an_oversized_upload_is_refused_and_nothing_is_stored(client, bob, settings):
    settings.IMPORT_MAX_BYTES = 200
    client.force_login(bob)
    data = b"".join(f"https://vimeo.com/{n}\n".encode() for n in range(50))
    assert len(data) > 200
    response = client.post(
        reverse("import_create"),
        {"file": SimpleUploadedFile("big.csv", data, content_type="text/csv")},
    )
    assert response.status_code == 200
    assert "the limit is" in response.content.decode()
    assert not ImportJob.objects.exists()
    assert not Finding.objects.exists()


def test_oversized_pasted_text_is_refused_too(client, bob, settings):
    settings.IMPORT_MAX_BYTES = 200
    client.force_login(bob)
    lines = "\n".join(f"https://vimeo.com/{n}" for n in range(50))
    response = client.post(reverse("import_create"), {"lines": lines})
    assert "the limit is" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_a_binary_file_is_refused(client, bob):
    client.force_login(bob)
    upload = SimpleUploadedFile(
        "photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00", content_type="text/csv"
    )
    response = client.post(reverse("import_create"), {"file": upload})
    assert "not a CSV or text file" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_an_empty_import_is_refused(client, bob):
    client.force_login(bob)
    response = client.post(reverse("import_create"), {"lines": "  \n"})
    assert "Paste at least one URL or choose a file to upload." in response.content.decode()
    response = client.post(
        reverse("import_create"),
        {"file": SimpleUploadedFile("empty.csv", b"url\n\n", content_type="text/csv")},
    )
    assert "No URLs found" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_lines_and_a_file_together_are_refused(client, bob):
    client.force_login(bob)
    response = client.post(
        reverse("import_create"),
        {
            "lines": "https://vimeo.com/1",
            "file": SimpleUploadedFile("a.csv", b"https://vimeo.com/2\n", content_type="text/csv"),
        },
    )
    assert "not both" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_too_many_rows_are_refused(client, bob, settings):
    settings.IMPORT_MAX_ROWS = 3
    client.force_login(bob)
    lines = "\n".join(f"https://vimeo.com/{n}" for n in range(4))
    response = client.post(reverse("import_create"), {"lines": lines})
    assert "the limit is 3" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_progress_is_polled_while_the_job_runs_and_the_page_reloads_when_done(client, bob, agency):
    job = import_job_create(
        agency=agency, actor=bob, text="https://vimeo.com/1\nhttps://vimeo.com/2\n"
    )
    client.force_login(bob)
    content = client.get(reverse("import_detail", args=[job.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in content
    assert "<progress" in content
    poll = client.get(reverse("import_detail", args=[job.pk]), {"poll": 1}, HTTP_HX_REQUEST="true")
    assert poll.content.decode().lstrip().startswith('<section id="import-progress"')
    assert 'hx-trigger="every 1s"' in poll.content.decode()
    import_job_run(job_id=job.pk)
    poll = client.get(reverse("import_detail", args=[job.pk]), {"poll": 1}, HTTP_HX_REQUEST="true")
    assert poll["HX-Refresh"] == "true"


def test_the_report_csv_has_every_row(client, bob, agency, finding):
    text = (
        "https://vimeo.com/1\n=cmd|' /C calc'!A0\nhttps://www.youtube.com/watch?v=aurora-secret-1\n"
    )
    job = import_job_create(agency=agency, actor=bob, text=text)
    import_job_run(job_id=job.pk)
    client.force_login(bob)
    response = client.get(reverse("import_report", args=[job.pk]))
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["row", "outcome", "finding_id", "column", "url", "reason"]
    assert [r[:2] for r in rows[1:]] == [["1", "created"], ["2", "invalid"], ["3", "duplicate"]]
    assert rows[3][2] == str(finding.pk)
    # The raw value is given back, quoted so a spreadsheet does not run it as a formula.
    assert rows[2][4] == "'=cmd|' /C calc'!A0"


def test_the_report_table_pages_through_problem_rows(client, bob, agency):
    text = "\n".join(f"ftp://example.com/{n}" for n in range(60))
    job = import_job_create(agency=agency, actor=bob, text=text)
    import_job_run(job_id=job.pk)
    client.force_login(bob)
    content = client.get(reverse("import_detail", args=[job.pk])).content.decode()
    assert content.count('class="badge outcome-invalid"') == 50
    content = client.get(reverse("import_detail", args=[job.pk]), {"page": 2}).content.decode()
    assert content.count('class="badge outcome-invalid"') == 10


def test_the_import_list_shows_past_imports(client, carol, agency, bob):
    job = import_job_create(
        agency=agency, actor=bob, text="https://vimeo.com/1\n", filename="june.csv"
    )
    client.force_login(carol)
    content = client.get(reverse("import_list")).content.decode()
    assert "june.csv" in content
    assert reverse("import_detail", args=[job.pk]) in content


def test_an_empty_import_list_explains_imports(client, carol):
    client.force_login(carol)
    assert "No imports yet." in client.get(reverse("import_list")).content.decode()


def test_imports_of_another_agency_are_404(client, mallory, agency, bob):
    job = import_job_create(agency=agency, actor=bob, text="https://vimeo.com/1\n")
    client.force_login(mallory)
    assert client.get(reverse("import_detail", args=[job.pk])).status_code == 404
    assert client.get(reverse("import_report", args=[job.pk])).status_code == 404
    poll = client.get(reverse("import_detail", args=[job.pk]), {"poll": 1}, HTTP_HX_REQUEST="true")
    assert poll.status_code == 404


def test_duplicates_of_earlier_findings_link_to_them(client, bob, agency):
    existing = make_finding(agency, "https://vimeo.com/77", actor=bob)
    job = import_job_create(agency=agency, actor=bob, text="https://vimeo.com/77?si=abc\n")
    import_job_run(job_id=job.pk)
    client.force_login(bob)
    content = client.get(reverse("import_detail", args=[job.pk])).content.decode()
    assert f'href="{reverse("finding_detail", args=[existing.pk])}"' in content


def _failed_import(agency, bob) -> ImportJob:  # type: ignore[no-untyped-def]
    job = import_job_create(agency=agency, actor=bob, text="https://vimeo.com/1\n")
    job_fail(model=ImportJob, pk=job.pk, error="OperationalError: database went away")
    job.refresh_from_db()
    return job


def test_legal_staff_retry_a_failed_import_and_it_finishes(
    client, bob, agency, django_capture_on_commit_callbacks
):
    job = _failed_import(agency, bob)
    client.force_login(bob)
    content = client.get(reverse("import_detail", args=[job.pk])).content.decode()
    assert "database went away" in content
    assert reverse("import_retry", args=[job.pk]) in content

    # Eager Celery: the task sent after commit runs the import to its end.
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("import_retry", args=[job.pk]))

    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.status, job.created_count, job.error) == (ImportJobStatus.DONE, 1, "")
    event = AuditEvent.objects.get(action="import.retried", object_id=str(job.pk))
    assert event.actor_id == bob.pk and "database went away" in event.data["error"]
    content = client.get(reverse("import_detail", args=[job.pk])).content.decode()
    assert reverse("import_retry", args=[job.pk]) not in content


def test_a_finished_import_is_not_retried(client, bob, agency):
    job = import_job_create(agency=agency, actor=bob, text="https://vimeo.com/1\n")
    import_job_run(job_id=job.pk)
    client.force_login(bob)
    response = client.post(reverse("import_retry", args=[job.pk]), follow=True)
    assert "Only a failed job can be retried." in response.content.decode()
    assert not AuditEvent.objects.filter(action="import.retried").exists()


def test_a_viewer_cannot_retry_an_import(client, carol, bob, agency):
    job = _failed_import(agency, bob)
    client.force_login(carol)
    content = client.get(reverse("import_detail", args=[job.pk])).content.decode()
    assert reverse("import_retry", args=[job.pk]) not in content
    assert client.post(reverse("import_retry", args=[job.pk])).status_code == 403
    job.refresh_from_db()
    assert job.status == ImportJobStatus.FAILED


def test_outsider_gets_404_when_retrying_an_import(client, mallory, bob, agency):
    job = _failed_import(agency, bob)
    client.force_login(mallory)
    assert client.post(reverse("import_retry", args=[job.pk])).status_code == 404
    job.refresh_from_db()
    assert job.status == ImportJobStatus.FAILED
