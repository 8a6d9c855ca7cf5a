"""Legal staff generate a dossier from the case page and download it, in real Chromium.

Celery runs eagerly here (tests/conftest.py), so the dossier is built inside the request
that asks for it; the panel's htmx swap then shows it with its download link."""

from __future__ import annotations

from pathlib import Path

import pytest

from reports.models import Dossier, DossierStatus
from tests.e2e.test_browser import _log_in, browser, page  # noqa: F401 - fixtures
from tests.reports.builders import build_case

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_legal_staff_generate_and_download_a_dossier_from_the_case_page(
    page,  # noqa: F811 - the fixture imported above
    agency,
    bob,
    artist,
    tmp_path,
) -> None:
    case = build_case(agency=agency, actor=bob, artists=[artist], items=3)
    _log_in(page, "bob")
    page.goto(f"/cases/{case.pk}/")
    panel = page.locator("[data-dossier-panel]")
    assert "No dossier generated yet" in panel.inner_text()

    panel.get_by_role("button", name="Generate dossier").click()
    link = page.locator("[data-dossier-panel] a[data-download=pdf]")
    link.wait_for(timeout=60_000)
    dossier = Dossier.objects.get(case=case)
    assert dossier.status == DossierStatus.DONE

    with page.expect_download() as info:
        link.first.click()
    download = info.value
    target = Path(tmp_path) / download.suggested_filename
    download.save_as(str(target))
    assert target.name.endswith(f"{dossier.identifier}.pdf")
    data = target.read_bytes()
    assert data.startswith(b"%PDF")
    import hashlib

    assert hashlib.sha256(data).hexdigest() == dossier.pdf_sha256
