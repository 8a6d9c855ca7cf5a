"""axe-core (vendored, test-only: tests/e2e/vendor) over every main page in Chromium: zero
WCAG 2.0/2.1 A and AA violations, in English and Korean.

axe is injected with `page.evaluate(source)`: DevTools evaluation is not subject to the
page's Content-Security-Policy (script-src 'self'), whereas `add_script_tag` would insert an
inline <script> that the CSP rightly blocks. The pages keep their real CSP (no bypass_csp),
so what axe checks is what users get."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.urls import reverse

from cases.intake.monitor.models import Discovery
from cases.intake.services.imports import import_job_create
from cases.intake.services.watched_sources import watched_source_save
from cases.kernel.web import PAGE_SIZE
from cases.kernel.widgets import FILTER_FROM
from cases.legal.services.legal_cases import case_create
from cases.notices.services.drafts import notice_create
from detection.models import ReviewVerdict
from detection.services.reviews import detection_review_record
from tests.e2e.test_browser import PASSWORD, browser, page  # noqa: F401 - fixtures
from tests.factories import ArtistFactory, make_finding
from tests.matching.conftest import store_image
from tests.matching.images import scene
from tests.twofactor_helpers import device_code, enrol

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VENDOR = Path(__file__).parent / "vendor"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def _axe_source() -> str:
    """The vendored axe, checked against the checksum its LICENCES line records."""
    line = next(
        line
        for line in (VENDOR / "LICENCES").read_text().splitlines()
        if line.startswith("axe.min.js ")
    )
    source = (VENDOR / "axe.min.js").read_bytes()
    assert hashlib.sha256(source).hexdigest() == line.split()[-1]
    return source.decode()


def _violations(page: Any, axe: str) -> list[str]:  # noqa: F811
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(axe)
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})",
        WCAG_TAGS,
    )
    return [
        f"{violation['id']} ({violation['impact']}): {node['target']} {node['failureSummary']}"
        for violation in result["violations"]
        for node in violation["nodes"]
    ]


@pytest.fixture
def main_pages(alice, bob, finding, agency) -> dict[str, str]:  # type: ignore[no-untyped-def]
    # More than a page of findings: the triage queue shows its pagination.
    for n in range(PAGE_SIZE):
        make_finding(agency, f"https://www.youtube.com/watch?v=a11y-{n}", actor=bob)
    case = case_create(agency=agency, actor=bob, title="Deepfake ring", findings=[finding])
    notice = notice_create(
        agency=agency, actor=bob, findings=[finding], legal_basis="platform_policy"
    )
    # More artists than a checkbox list shows without its filter box.
    for n in range(FILTER_FROM + 1):
        ArtistFactory(agency=agency, stage_name=f"Artist {n}")
    # A finished import with a warning row, a rejected long value (cut, opens in full) and
    # the retry button.
    job = import_job_create(
        agency=agency,
        actor=bob,
        text="url,artist\nhttps://example.com/a,\nhttps://example.com/b,Nobody\n"
        f"not a url {'x' * 100},\n",
    )
    # A confirmed fake: the evidence page shows its exchange-bank panel with the labels form.
    fake = store_image(agency, scene(50), finding=finding, actor=bob)
    detection_review_record(evidence=fake, verdict=ReviewVerdict.CONFIRMED_FAKE, actor=bob)
    # A watched source with a strong discovery (the capture column).
    source = watched_source_save(
        agency=agency,
        actor=alice,
        name="Uploads",
        kind="feed",
        url="https://uploads.example/feed.xml",
        interval_minutes=60,
    )
    Discovery.objects.create(
        agency=agency,
        source=source,
        source_name=source.name,
        finding=finding,
        item_url=finding.url,
        reason="PDQ distance 4 to reference #1",
        strong_match=True,
        capture_requested=True,
    )
    return {
        "dashboard": reverse("dashboard"),
        "triage queue": reverse("finding_list"),
        "finding detail": reverse("finding_detail", args=[finding.pk]),
        "cases": reverse("case_list"),
        "case detail": reverse("case_detail", args=[case.pk]),
        "notices": reverse("notice_list"),
        "notice detail": reverse("notice_detail", args=[notice.pk]),
        "imports": reverse("import_list"),
        "import detail": reverse("import_detail", args=[job.pk]),
        "record finding": reverse("finding_create"),
        "my work": reverse("my_work"),
        "roster": reverse("artist_list"),
        "settings": reverse("user_settings"),
        "staff": reverse("staff_list"),
        "audit trail": reverse("audit_list"),
        "evidence detail": reverse("evidence_detail", args=[fake.pk]),
        "watched sources": reverse("watched_source_list"),
        "watched source": reverse("watched_source_detail", args=[source.pk]),
        "hash exchange": reverse("exchange_settings"),
        "artist": reverse("artist_detail", args=[finding.artists.first().pk]),
        "reference media": reverse("reference_media_index"),
        "detectors": reverse("detector_list"),
        "statistics": reverse("stats_dashboard"),
        "not found": "/no-such-page/",
    }


@pytest.mark.parametrize("language", ["en", "ko"])
def test_every_main_page_has_no_wcag_a_or_aa_violation(  # type: ignore[no-untyped-def]
    page,  # noqa: F811
    live_server,
    main_pages,
    agency,
    alice,
    language,
) -> None:
    axe = _axe_source()
    device, _codes = enrol(alice)
    page.context.add_cookies(
        [{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}]
    )
    found: dict[str, list[str]] = {}
    for name, url in {
        "login": reverse("login"),
        "fan report": reverse("fan_report", args=[agency.slug]),
    }.items():
        page.goto(url)
        found[name] = _violations(page, axe)
    page.goto(reverse("login"))
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", PASSWORD)
    page.locator("form[action$='/login/'] button[type=submit]").click()
    # Admins pass the second login step (cases.agency.middleware); the step is checked too.
    page.wait_for_url("**/account/two-factor/verify/**")
    found["two-factor step"] = _violations(page, axe)
    # The next step's code: enrolment spent this step's (django-otp refuses a replay).
    page.fill("input[name=code]", device_code(device, steps_ahead=1))
    page.locator("main form button[type=submit]").first.click()
    page.wait_for_url(lambda url: "/two-factor/" not in url)
    for name, url in main_pages.items():
        page.goto(url)
        found[name] = _violations(page, axe)
    assert page.locator("html").get_attribute("lang") == language
    assert {name: v for name, v in found.items() if v} == {}
