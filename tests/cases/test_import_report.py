"""The import report: rows in their own table, the raw URL and column of each rejected row,
and reasons rendered in the reader's language (stored as message id and parameters)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import translation
from django.utils.translation import trans_real

from cases.intake.models import ImportReportRow
from cases.intake.services.imports import import_job_create, import_job_run

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
    assert rows[5].url == "https://vimeo.com/2" and rows[5].outcome == "invalid"
    # Stored untranslated, with parameters apart: rendered per reader.
    assert (rows[5].code, rows[5].params) == ("unknown artist: %(names)s", '{"names": "Nobody"}')
    assert rows[3].reason == "same URL as row 2"


def test_plain_lines_have_no_column(agency, bob) -> None:  # type: ignore[no-untyped-def]
    job = import_job_create(agency=agency, actor=bob, text="not a url\n")
    import_job_run(job_id=job.pk)
    row = ImportReportRow.objects.get(job=job)
    assert (row.url, row.column, row.outcome) == ("not a url", None, "invalid")


def test_the_report_page_shows_url_column_and_korean_reasons(client, agency, bob, artist):  # type: ignore[no-untyped-def]
    job = _job(agency, bob)
    client.force_login(bob)
    english = client.get(reverse("import_detail", args=[job.pk])).content.decode()
    assert "unknown artist: Nobody" in english
    assert "ftp://files.example/leak.mp4" in english
    client.post(reverse("set_language"), {"language": "ko"})
    korean = client.get(reverse("import_detail", args=[job.pk])).content.decode()
    assert "알 수 없는 아티스트: Nobody" in korean
    assert "2행과 같은 URL" in korean
    assert "unknown artist" not in korean
    assert "입력된 URL" in korean and "https://vimeo.com/2" in korean
