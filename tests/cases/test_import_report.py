"""The import report: rows in their own table, the raw URL and column of each rejected row,
reasons rendered in the reader's language (stored as message id and parameters), unknown
artist names accepted with a warning, and the retry of the failed rows."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation
from django.utils.translation import trans_real

from cases.intake.import_reasons import reason_render
from cases.intake.models import Finding, ImportJob, ImportReportRow
from cases.intake.services.import_retries import import_job_retry_failed_rows
from cases.intake.services.imports import (
    ImportRejected,
    import_job_create,
    import_job_create_from_upload,
    import_job_run,
)
from cases.kernel.models import AuditEvent, OutboxMessage

pytestmark = pytest.mark.django_db

CSV = """url,artist
https://vimeo.com/1,Yuna
https://vimeo.com/1?utm_source=x,Yuna
ftp://files.example/leak.mp4,
https://vimeo.com/2,Nobody
"""


@pytest.fixture(autouse=True)
def korean_catalog(settings):  # type: ignore[no-untyped-def]
    po = settings.BASE_DIR / "locale" / "ko" / "LC_MESSAGES" / "django.po"
    mo = po.with_suffix(".mo")
    if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
        call_command("compilemessages", locale=["ko"], ignore_patterns=[".venv"], verbosity=0)
        trans_real._translations = {}
        trans_real._default = None
    yield
    translation.activate(settings.LANGUAGE_CODE)


def _job(agency, bob):  # type: ignore[no-untyped-def]
    job = import_job_create(agency=agency, actor=bob, text=CSV, filename="list.csv")
    return import_job_run(job_id=job.pk)


def test_report_rows_keep_the_raw_url_and_column(agency, bob, artist) -> None:  # type: ignore[no-untyped-def]
    job = _job(agency, bob)
    rows = {r.row: r for r in ImportReportRow.objects.filter(job=job)}
    assert sorted(rows) == [2, 3, 4, 5]
    assert rows[4].url == "ftp://files.example/leak.mp4" and rows[4].column == 1
    assert rows[4].outcome == "invalid"
    # Stored untranslated, with parameters apart: rendered per reader.
    assert rows[4].code == "Only http and https URLs can be recorded (got '%(scheme)s:')."
    assert rows[4].params == '{"scheme": "ftp"}'
    assert rows[4].raw == "ftp://files.example/leak.mp4,"  # the line, for a retry
    assert rows[3].reason == "same URL as row 2"


def test_plain_lines_have_no_column(agency, bob) -> None:  # type: ignore[no-untyped-def]
    job = import_job_create(agency=agency, actor=bob, text="not a url\n")
    import_job_run(job_id=job.pk)
    row = ImportReportRow.objects.get(job=job)
    assert (row.url, row.column, row.outcome) == ("not a url", None, "invalid")


def test_an_unknown_artist_is_a_warning_and_the_url_is_recorded(agency, bob, artist) -> None:  # type: ignore[no-untyped-def]
    text = "url,artist\nhttps://vimeo.com/2,Yuna|Nobody\nhttps://vimeo.com/3,Yuna\n"
    job = import_job_run(job_id=import_job_create(agency=agency, actor=bob, text=text).pk)
    assert (job.created_count, job.warning_count, job.invalid_count) == (1, 1, 0)
    row = ImportReportRow.objects.get(job=job, row=2)
    assert row.outcome == "warning" and row.column == 2  # the artist column is at fault
    assert row.reason == "artist 'Nobody' not on the roster; left for review"
    finding = Finding.objects.get(pk=row.finding_id)
    assert finding.url == "https://vimeo.com/2"
    assert list(finding.artists.all()) == [artist]  # the known name is linked, Nobody is not
    event = AuditEvent.objects.get(action="finding.recorded", object_id=str(finding.pk))
    assert event.data["unknown_artists"] == ["Nobody"]
    clean = ImportReportRow.objects.get(job=job, row=3)
    assert clean.outcome == "created" and clean.reason == ""


def test_the_report_page_shows_url_column_and_korean_reasons(client, agency, bob, artist):  # type: ignore[no-untyped-def]
    job = _job(agency, bob)
    client.force_login(bob)
    english = client.get(reverse("import_detail", args=[job.pk])).content.decode()
    assert "artist &#x27;Nobody&#x27; not on the roster; left for review" in english
    assert "Only http and https URLs can be recorded (got &#x27;ftp:&#x27;)" in english
    assert "ftp://files.example/leak.mp4" in english
    client.post(reverse("set_language"), {"language": "ko"})
    korean = client.get(reverse("import_detail", args=[job.pk])).content.decode()
    assert "아티스트 &#x27;Nobody&#x27;은(는) 명단에 없습니다" in korean
    assert "경고와 함께 가져옴" in korean
    assert "2행과 같은 URL" in korean
    assert "http 및 https URL만" in korean  # the URL check's reason, translated too
    assert "not on the roster" not in korean and "Only http" not in korean
    assert "입력된 URL" in korean and "https://vimeo.com/2" in korean


def test_a_hostile_raw_url_is_escaped_and_a_long_one_opens_in_full(client, agency, bob):  # type: ignore[no-untyped-def]
    long_value = "<script>alert(1)</script>" + "x" * 200
    job = import_job_create(agency=agency, actor=bob, text=f"url\n{long_value}\n")
    import_job_run(job_id=job.pk)
    client.force_login(bob)
    content = client.get(reverse("import_detail", args=[job.pk])).content.decode()
    assert "<script>alert(1)" not in content
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" + "x" * 200 in content  # the whole value
    assert "<details" in content


@pytest.mark.parametrize(
    ("stored", "korean"),
    [
        ("unknown artist: Nobody", "알 수 없는 아티스트: Nobody"),
        ("same URL as row 7", "7행과 같은 URL"),
        ("already recorded", None),
        ("The URL is longer than 4096 characters.", None),
        ("Only http and https URLs can be recorded (got 'ftp:').", "http 및 https URL만"),
    ],
)
def test_reasons_stored_as_english_text_before_still_read_in_korean(stored, korean) -> None:  # type: ignore[no-untyped-def]
    # Reports copied from the JSON reports (migration 0017) hold the English text.
    english = reason_render(stored, "")
    assert english == stored
    with translation.override("ko"):
        rendered = reason_render(stored, "")
    assert rendered != stored
    if korean:
        assert korean in rendered


def test_an_unknown_text_is_shown_as_stored() -> None:
    with translation.override("ko"):
        assert reason_render("something else: 5", "") == "something else: 5"


def test_the_csv_report_has_the_url_column_and_the_reason_in_the_readers_language(
    client, agency, bob, artist
):  # type: ignore[no-untyped-def]
    job = _job(agency, bob)
    client.force_login(bob)
    client.post(reverse("set_language"), {"language": "ko"})
    response = client.get(reverse("import_report", args=[job.pk]))
    lines = b"".join(response.streaming_content).decode().splitlines()
    assert lines[0] == "row,outcome,finding_id,column,url,reason"
    row4 = next(line for line in lines if line.startswith("4,"))
    assert row4.startswith("4,invalid,,1,ftp://files.example/leak.mp4,")
    assert "http 및 https URL만" in row4
    assert any(line.startswith("5,warning,") and "명단에 없습니다" in line for line in lines)


# --- retry the failed rows -------------------------------------------------------------

RETRY_CSV = """url,artist,note
https://vimeo.com/1,Yuna,fine
ftp://files.example/a,Yuna,bad scheme
https://vimeo.com/1,,duplicate
"https://t.me/c/1,2,broken quote
https://vimeo.com/4,Nobody,warning
javascript:alert(1),,bad scheme again
"""


def test_the_retry_holds_exactly_the_failed_rows_as_they_were(agency, bob, artist) -> None:  # type: ignore[no-untyped-def]
    job = import_job_run(job_id=import_job_create(agency=agency, actor=bob, text=RETRY_CSV).pk)
    assert (job.created_count, job.warning_count, job.duplicate_count, job.invalid_count) == (
        1,
        1,
        1,
        3,
    )
    retry, created = import_job_retry_failed_rows(job=job, actor=bob)
    assert created and retry.retry_of == job and retry.agency == agency
    assert retry.payload == (
        "url,artist,note\n"
        "ftp://files.example/a,Yuna,bad scheme\n"
        '"https://t.me/c/1,2,broken quote\n'
        "javascript:alert(1),,bad scheme again\n"
    )
    assert retry.total_rows == 3
    # Queued through the outbox like every job, and audited on the source import.
    assert OutboxMessage.objects.filter(kwargs={"job_id": retry.pk}).exists()
    event = AuditEvent.objects.get(action="import.failed_rows_retried")
    assert event.object_id == str(job.pk) and event.data == {"retry": retry.pk, "rows": 3}


def test_the_retry_of_an_uploaded_file_keeps_its_header(agency, bob, artist) -> None:  # type: ignore[no-untyped-def]
    # An upload's text is in a stored file, not on the job row: the header comes from there.
    upload = SimpleUploadedFile("list.csv", RETRY_CSV.encode("utf-8"), content_type="text/csv")
    job = import_job_create_from_upload(agency=agency, actor=bob, upload=upload)
    assert job.payload == ""
    job = import_job_run(job_id=job.pk)
    retry, _created = import_job_retry_failed_rows(job=job, actor=bob)
    assert retry.payload.splitlines()[0] == "url,artist,note"
    assert retry.total_rows == 3


def test_a_second_retry_returns_the_first(agency, bob) -> None:  # type: ignore[no-untyped-def]
    job = import_job_run(job_id=import_job_create(agency=agency, actor=bob, text="bad one\n").pk)
    first, created = import_job_retry_failed_rows(job=job, actor=bob)
    second, created_again = import_job_retry_failed_rows(job=job, actor=bob)
    assert created and not created_again and first == second
    assert ImportJob.objects.filter(retry_of=job).count() == 1
    assert first.payload == "bad one\n"  # plain lines: no header is added


def test_nothing_to_retry_is_refused(agency, bob) -> None:  # type: ignore[no-untyped-def]
    job = import_job_run(
        job_id=import_job_create(agency=agency, actor=bob, text="https://a.example/1\n").pk
    )
    with pytest.raises(ImportRejected):
        import_job_retry_failed_rows(job=job, actor=bob)
    assert not ImportJob.objects.filter(retry_of=job).exists()


def test_a_double_click_on_retry_makes_one_job(client, agency, bob, artist) -> None:  # type: ignore[no-untyped-def]
    job = import_job_run(job_id=import_job_create(agency=agency, actor=bob, text=RETRY_CSV).pk)
    client.force_login(bob)
    page = client.get(reverse("import_detail", args=[job.pk])).content.decode()
    url = reverse("import_retry_failed_rows", args=[job.pk])
    assert url in page and "Retry the 3 failed rows" in page
    first = client.post(url)
    second = client.post(url, follow=True)
    retry = ImportJob.objects.get(retry_of=job)
    assert first["Location"] == reverse("import_detail", args=[retry.pk])
    assert second.redirect_chain[-1][0] == reverse("import_detail", args=[retry.pk])
    assert f"already retried as import #{retry.pk}" in second.content.decode()
    assert ImportJob.objects.filter(retry_of=job).count() == 1
    # The source's page now links to the retry instead of offering the button again.
    page = client.get(reverse("import_detail", args=[job.pk])).content.decode()
    assert url not in page and reverse("import_detail", args=[retry.pk]) in page
    listing = client.get(reverse("import_list")).content.decode()
    assert f"(failed rows of #{job.pk})" in listing


def test_outsiders_and_viewers_cannot_retry(client, agency, bob, carol, mallory) -> None:  # type: ignore[no-untyped-def]
    job = import_job_run(job_id=import_job_create(agency=agency, actor=bob, text="bad one\n").pk)
    url = reverse("import_retry_failed_rows", args=[job.pk])
    client.force_login(mallory)
    assert client.post(url).status_code == 404
    assert client.get(reverse("import_detail", args=[job.pk])).status_code == 404
    client.force_login(carol)
    assert client.post(url).status_code == 403
    assert (
        "retry-failed-rows"
        not in client.get(reverse("import_detail", args=[job.pk])).content.decode()
    )
    assert not ImportJob.objects.filter(retry_of=job).exists()


def test_the_audit_trail_names_the_retry_and_the_warnings_in_korean(agency, bob) -> None:  # type: ignore[no-untyped-def]
    from cases.templatetags.cases_extras import action_label, event_detail

    text = "url,artist\nhttps://vimeo.com/9,Nobody\nbad one,\n"
    job = import_job_run(job_id=import_job_create(agency=agency, actor=bob, text=text).pk)
    retry, _created = import_job_retry_failed_rows(job=job, actor=bob)
    finished = AuditEvent.objects.get(action="import.finished")
    retried = AuditEvent.objects.get(action="import.failed_rows_retried")
    assert event_detail(finished) == "0 created, 1 with warnings, 0 duplicates, 1 invalid"
    with translation.override("ko"):
        assert action_label("import.failed_rows_retried") == "가져오기의 실패한 행 다시 시도"
        assert event_detail(finished) == "생성 0건, 경고 포함 1건, 중복 0건, 무효 1건"
        assert event_detail(retried) == f"가져오기 #{retry.pk}의 1행"


@pytest.mark.django_db(transaction=True)
def test_two_retries_at_once_make_one_job(agency, bob) -> None:  # type: ignore[no-untyped-def]
    """Both requests start together: the import's row lock makes them take turns (and the
    one-to-one constraint backs it up); both get the same retry."""
    import threading

    from django.db import connection

    from tests.conftest import require_service

    require_service(
        connection.vendor == "postgresql",
        "needs PostgreSQL (DATABASE_URL=postgres://...): SQLite's test database shares one "
        "connection cache across threads",
    )
    # Committed at once here: the eager task has run the import by the time create returns.
    job = ImportJob.objects.get(pk=import_job_create(agency=agency, actor=bob, text="bad one\n").pk)
    assert job.status == "done" and job.invalid_count == 1
    barrier = threading.Barrier(2, timeout=20)
    results: list[tuple[int, bool]] = []
    errors: list[BaseException] = []

    def retry() -> None:
        try:
            barrier.wait()
            made, created = import_job_retry_failed_rows(job=job, actor=bob)
            results.append((made.pk, created))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=retry) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    assert sorted(created for _pk, created in results) == [False, True]
    assert len({pk for pk, _created in results}) == 1
    assert ImportJob.objects.filter(retry_of=job).count() == 1


def test_findings_left_without_an_artist_are_found_in_triage(client, agency, bob, artist) -> None:  # type: ignore[no-untyped-def]
    import re

    from django.http import QueryDict

    from cases.intake.filters import FindingFilter

    text = "url,artist\nhttps://vimeo.com/2,Nobody\nhttps://vimeo.com/3,Yuna\n"
    import_job_run(job_id=import_job_create(agency=agency, actor=bob, text=text).pk)
    warned = Finding.objects.get(url="https://vimeo.com/2")
    linked = Finding.objects.get(url="https://vimeo.com/3")
    client.force_login(bob)
    content = client.get(reverse("finding_list"), {"no_artist": "1"}).content.decode()
    assert [int(pk) for pk in re.findall(r'data-finding-id="(\d+)"', content)] == [warned.pk]
    everything = client.get(reverse("finding_list")).content.decode()
    assert str(linked.pk) in re.findall(r'data-finding-id="(\d+)"', everything)
    # The API filters with the same FilterSet.
    filtered = FindingFilter(QueryDict("no_artist=true"), queryset=Finding.objects.all()).qs
    assert list(filtered) == [warned]
