"""The Korean import report, in real Chromium: a legal assistant switches to Korean, uploads
a CSV with a good row, a row naming an artist not on the roster and a bad row, reads the
report (the raw URL, its column and the reason in Korean; the warning row) and retries the
failed rows."""

from __future__ import annotations

import pytest

from cases.intake.models import Finding, ImportJob
from tests.e2e.test_browser import _log_in, browser, page  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CSV = (
    b"url,artist\n"
    b"https://vimeo.com/501,Yuna\n"
    b"https://vimeo.com/502,Nobody\n"
    b"ftp://files.example/leak.mp4,Yuna\n"
)


def test_the_korean_import_report_and_the_retry_of_failed_rows(
    page,  # noqa: F811 - the fixture imported above
    bob,
    artist,
) -> None:
    _log_in(page, "bob")
    page.select_option("select[name=language]", "ko")
    page.locator("form.language-form button").click()
    page.wait_for_load_state()

    page.goto("/imports/new/")
    page.set_input_files(
        "input[name=file]", files=[{"name": "목록.csv", "mimeType": "text/csv", "buffer": CSV}]
    )
    page.locator("main form.stacked button[type=submit]").click()
    page.wait_for_url("**/imports/*/")
    job = ImportJob.objects.get()
    # The test runs tasks inline: the import is finished when the page loads.
    assert (job.created_count, job.warning_count, job.invalid_count) == (1, 1, 1)

    warnings = page.locator("#import-warnings").inner_text()
    assert "경고와 함께 가져옴" in warnings
    assert "https://vimeo.com/502" in warnings
    assert "아티스트 'Nobody'은(는) 명단에 없습니다" in warnings
    warned = Finding.objects.get(url="https://vimeo.com/502")
    assert not warned.artists.exists()

    rejected = page.locator("section.card", has_text="가져오지 않은 행")
    row = rejected.locator("tbody tr").first
    cells = [cell.inner_text().strip() for cell in row.locator("td").all()]
    assert cells[:3] == ["4", "1", "ftp://files.example/leak.mp4"]
    assert "http 및 https URL만 기록할 수 있습니다 ('ftp:' 입력됨)." in cells[4]
    assert "Only http" not in page.locator("main").inner_text()

    page.get_by_role("button", name="실패한 1행 다시 시도").click()
    page.wait_for_url(lambda url: f"/imports/{job.pk}/" not in url)
    retry = ImportJob.objects.get(retry_of=job)
    assert retry.payload == "url,artist\nftp://files.example/leak.mp4,Yuna\n"
    assert f"가져오기 #{job.pk}" in page.locator("main").inner_text()

    # Back on the first import, the button has become the way to the retry: no second one.
    page.goto(f"/imports/{job.pk}/")
    link = page.get_by_role("link", name=f"실패한 행 다시 시도됨: 가져오기 #{retry.pk}")
    assert link.count() == 1
    assert page.get_by_role("button", name="실패한 1행 다시 시도").count() == 0
    assert ImportJob.objects.filter(retry_of=job).count() == 1
