"""The statistics dashboard in real headless Chromium: its SVG charts render (visible,
sized, with bars) under the production CSP, with no console errors."""

from __future__ import annotations

import pytest

from cases.intake.services.findings import finding_set_status
from tests.e2e.test_browser import _log_in, browser, page  # noqa: F401 (fixtures)
from tests.factories import make_finding

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_statistics_dashboard_draws_its_charts(page, bob, artist, tmp_path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    for n in range(3):
        finding = make_finding(
            bob.membership.agency,
            f"https://www.youtube.com/watch?v=s{n}",
            actor=bob,
            artists=[artist],
        )
        finding = finding_set_status(finding=finding, status="captured", actor=bob)
        finding_set_status(finding=finding, status="removed", actor=bob)
    errors: list[str] = []
    page.on(
        "console", lambda message: errors.append(message.text) if message.type == "error" else None
    )

    _log_in(page, "bob")
    page.get_by_role("link", name="Statistics").click()
    page.wait_for_url("**/stats/")

    charts = page.locator("svg.chart")
    assert charts.count() >= 5
    for index in range(charts.count()):
        box = charts.nth(index).bounding_box()
        assert box is not None and box["width"] > 200 and box["height"] > 10
    assert page.locator("[data-chart=weekly] svg rect.bar").count() >= 1
    assert page.locator("[data-chart=removal-platform] svg rect.bar").count() == 1
    assert "YouTube" in page.locator("[data-chart=removal-platform]").inner_text()
    page.screenshot(path=str(tmp_path / "stats.png"), full_page=True)
    assert errors == []
