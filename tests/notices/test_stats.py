"""Done-when 4: statistics on a hand-computed fixture (medians, 90th percentiles, counts),
the dashboard with its SVG charts, CSV exports and the transparency report."""

from __future__ import annotations

import csv
import io
import random
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
import time_machine

from cases.agency.models import Platform
from cases.intake.services.findings import finding_set_status
from cases.notices.models import Notice
from cases.notices.services.drafts import notice_create
from cases.stats import selectors as stats
from tests.factories import ArtistFactory, make_finding

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 3, 3, 0, 0, tzinfo=UTC)  # a Monday (09:00 in Seoul)


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


# --------------------------------------------------------------------------- pure functions


def test_median_and_percentile_by_hand() -> None:
    assert stats.median([]) is None and stats.percentile([], 0.9) is None
    assert stats.median([7]) == 7 and stats.percentile([7], 0.9) == 7
    assert stats.median([10, 40, 20, 30]) == 25
    # h = (4 - 1) * 0.9 = 2.7 → 30 + 0.7 * (40 - 30)
    assert stats.percentile([10, 20, 30, 40], 0.9) == pytest.approx(37)
    assert stats.median([1, 2, 3]) == 2
    assert stats.percentile([1, 2, 3], 0.0) == 1 and stats.percentile([1, 2, 3], 1.0) == 3


def test_percentile_matches_numpy_linear_interpolation() -> None:
    rng = random.Random(5)
    for _ in range(200):
        values = [rng.uniform(0, 500) for _ in range(rng.randint(1, 40))]
        p = rng.random()
        assert stats.percentile(values, p) == pytest.approx(np.percentile(values, p * 100))


# --------------------------------------------------------------------------- the fixture


def _finding(agency, bob, url, artist, removed_after=None, reappeared_after=None):  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False):
        finding = make_finding(agency, url, actor=bob, artists=[artist])
        finding = finding_set_status(finding=finding, status="captured", actor=bob)
    if removed_after is not None:
        with time_machine.travel(h(removed_after), tick=False):
            finding = finding_set_status(finding=finding, status="removed", actor=bob)
    if reappeared_after is not None:
        with time_machine.travel(h(reappeared_after), tick=False):
            finding = finding_set_status(finding=finding, status="reappeared", actor=bob)
    return finding


def _notice(agency, bob, findings, basis, status, sent=None, ack=None, closed=None):  # type: ignore[no-untyped-def]
    notice = notice_create(agency=agency, actor=bob, findings=findings, legal_basis=basis)
    if status != "draft":
        Notice.objects.filter(pk=notice.pk).update(
            status=status,
            sent_at=sent,
            acknowledged_at=ack,
            closed_at=closed,
            rendered_sha256="0" * 64,
        )
    return notice


@pytest.fixture
def world(agency, bob, artist):  # type: ignore[no-untyped-def]
    other = ArtistFactory(agency=agency, stage_name="Mira", name_hangul="미라")
    yt = [
        _finding(agency, bob, f"https://www.youtube.com/watch?v=y{n}", artist, removed_after=hours)
        for n, hours in enumerate((10, 20, 30, 40), start=1)
    ]
    t1 = _finding(agency, bob, "https://www.tiktok.com/@a/video/1", artist, removed_after=5)
    t2 = _finding(
        agency,
        bob,
        "https://www.tiktok.com/@a/video/2",
        other,
        removed_after=15,
        reappeared_after=50,
    )
    t3 = _finding(agency, bob, "https://www.tiktok.com/@a/video/3", other)
    with time_machine.travel(T0, tick=False):
        dismissed = make_finding(agency, "https://www.youtube.com/watch?v=d1", actor=bob)
        finding_set_status(finding=dismissed, status="dismissed", actor=bob, reason="not ours")
    _notice(agency, bob, yt[:2], "dmca_512c3", "actioned", sent=h(1), closed=h(20))
    _notice(agency, bob, [t1], "take_it_down", "actioned", sent=h(1), ack=h(3), closed=h(5))
    _notice(agency, bob, [yt[2]], "dmca_512c3", "rejected", sent=h(2), closed=h(12))
    _notice(agency, bob, [t3], "eu_dsa_16", "sent", sent=h(2))
    _notice(agency, bob, [yt[3]], "dmca_512c3", "draft")
    _notice(
        agency,
        bob,
        [t2],
        "eu_dsa_16",
        "no_response",
        sent=datetime(2026, 1, 2, tzinfo=UTC),
        closed=datetime(2026, 1, 20, tzinfo=UTC),
    )
    return {"yt": yt, "t1": t1, "t2": t2, "t3": t3}


def _rows(rows):  # type: ignore[no-untyped-def]
    return {r.label: (r.count, r.median_h, r.p90_h) for r in rows}


def test_time_to_removal_per_platform(world, bob) -> None:  # type: ignore[no-untyped-def]
    rows = _rows(stats.removal_times_by_platform(bob))
    assert rows["YouTube"] == (4, 25, pytest.approx(37))
    # TikTok: 5 h and 15 h → median 10, p90 = 5 + 0.9 * 10
    assert rows["TikTok"] == (2, 10, pytest.approx(14))
    assert set(rows) == {"YouTube", "TikTok"}


def test_time_to_removal_per_legal_basis(world, bob) -> None:  # type: ignore[no-untyped-def]
    rows = _rows(stats.removal_times_by_basis(bob))
    # DMCA: 10, 20, 30 (the draft's finding does not count) → p90 = 20 + 0.8 * 10
    assert rows["US DMCA § 512(c)(3)"] == (3, 20, pytest.approx(28))
    assert rows["US TAKE IT DOWN Act"] == (1, 5, 5)
    assert rows["EU DSA Art. 16"] == (1, 15, 15)


def test_notices_by_outcome_reappearance_and_response_times(world, bob) -> None:  # type: ignore[no-untyped-def]
    outcomes = {value: n for value, _label, n in stats.notice_outcomes(bob)}
    assert outcomes == {
        "draft": 1,
        "awaiting_submission": 0,
        "sent": 1,
        "acknowledged": 0,
        "actioned": 2,
        "rejected": 1,
        "no_response": 1,
    }
    again = stats.reappearance(bob)
    assert (again.removed_ever, again.reappeared) == (6, 1)
    assert again.rate == pytest.approx(1 / 6)
    response = _rows(stats.platform_response_times(bob))
    # YouTube: 19 h (no acknowledgement, decided) and 10 h; TikTok: acknowledged after 2 h.
    assert response["YouTube"] == (2, 14.5, pytest.approx(18.1))
    assert response["TikTok"] == (1, 2, 2)


def test_exposure_per_artist(world, bob) -> None:  # type: ignore[no-untyped-def]
    rows = {r["stage_name"]: r for r in stats.artist_exposure(bob)}
    assert (rows["Yuna"]["total"], rows["Yuna"]["live"], rows["Yuna"]["removed"]) == (5, 0, 5)
    assert rows["Yuna"]["reappeared"] == 0
    assert (rows["Mira"]["total"], rows["Mira"]["live"], rows["Mira"]["removed"]) == (2, 2, 0)
    assert rows["Mira"]["reappeared"] == 1


def test_findings_per_week_by_status(world, bob) -> None:  # type: ignore[no-untyped-def]
    weekly = stats.findings_weekly(bob, weeks=2, now=h(72))
    assert weekly.weeks == [date(2025, 2, 24), date(2025, 3, 3)]
    assert sum(weekly.counts[date(2025, 2, 24)].values()) == 0
    this_week = weekly.counts[date(2025, 3, 3)]
    assert dict(this_week) == {
        "new": 8,
        "captured": 7,
        "removed": 6,
        "reappeared": 1,
        "dismissed": 1,
    }


def test_the_transparency_report_counts_a_years_notices(world, bob) -> None:  # type: ignore[no-untyped-def]
    rows = [
        (r.provider, r.content_type, r.action, r.notices, r.median_h)
        for r in stats.transparency_report(bob, 2025)
    ]
    assert rows == [
        ("TikTok", "Illegal content (EU)", "Pending", 1, None),
        (
            "TikTok",
            "Non-consensual intimate imagery, including digital forgeries",
            "Content removed or disabled",
            1,
            4,
        ),
        (
            "YouTube",
            "Copyright infringement (altered copy of an original work)",
            "Content removed or disabled",
            1,
            19,
        ),
        (
            "YouTube",
            "Copyright infringement (altered copy of an original work)",
            "Notice rejected, no action",
            1,
            10,
        ),
    ]
    (only,) = stats.transparency_report(bob, 2026)
    assert (only.provider, only.action, only.notices) == ("TikTok", "No response", 1)


def test_another_agency_sees_none_of_it(world, mallory) -> None:  # type: ignore[no-untyped-def]
    assert stats.removal_times_by_platform(mallory) == []
    assert stats.transparency_report(mallory, 2025) == []
    assert stats.artist_exposure(mallory) == []
    assert stats.reappearance(mallory).removed_ever == 0


# --------------------------------------------------------------------------- pages


def _csv(response) -> list[list[str]]:  # type: ignore[no-untyped-def]
    text = response.content.decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


def test_the_dashboard_renders_its_charts(client, world, carol) -> None:  # type: ignore[no-untyped-def]
    client.force_login(carol)
    with time_machine.travel(h(72), tick=False):
        response = client.get("/stats/")
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count("<svg") >= 5
    assert "<script" not in page.split("<main", 1)[1]  # charts need no script
    assert "YouTube" in page and 'class="bar"' in page


@pytest.mark.parametrize(
    "table",
    [
        "weekly",
        "removal_platform",
        "removal_basis",
        "platform_response",
        "outcomes",
        "notice_counts",
        "reappearance",
        "artists",
    ],
)
def test_every_table_exports_as_csv(client, world, carol, table) -> None:  # type: ignore[no-untyped-def]
    client.force_login(carol)
    response = client.get(f"/stats/export.csv?table={table}")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert len(_csv(response)) >= 2


def test_the_removal_csv_has_the_hand_computed_figures(client, world, carol) -> None:  # type: ignore[no-untyped-def]
    client.force_login(carol)
    rows = _csv(client.get("/stats/export.csv?table=removal_platform"))
    assert rows[0] == ["group", "count", "median hours", "p90 hours"]
    assert ["YouTube", "4", "25.00", "37.00"] in rows
    assert ["TikTok", "2", "10.00", "14.00"] in rows


def test_the_transparency_report_page_and_csv(client, world, carol) -> None:  # type: ignore[no-untyped-def]
    client.force_login(carol)
    page = client.get("/stats/transparency/?year=2025").content.decode()
    assert "data-transparency" in page and "Notice rejected, no action" in page
    rows = _csv(client.get("/stats/transparency.csv?year=2025"))
    assert rows[0] == [
        "provider",
        "type of content",
        "action taken",
        "notices",
        "median hours to decision",
    ]
    assert len(rows) == 5
    assert client.get("/stats/export.csv?table=nope").status_code == 404


def test_csv_cells_cannot_start_a_formula(client, agency, bob, carol) -> None:  # type: ignore[no-untyped-def]
    Platform.objects.filter(agency=agency, name="YouTube").update(name="=HYPERLINK(1)")
    _finding(
        agency,
        bob,
        "https://www.youtube.com/watch?v=f",
        ArtistFactory(agency=agency),
        removed_after=1,
    )
    client.force_login(carol)
    rows = _csv(client.get("/stats/export.csv?table=removal_platform"))
    assert rows[1][0] == "'=HYPERLINK(1)"
