"""One time display: the agency's zone with its label, one format per language, UTC beside
evidence times (cases.kernel.times and the template built-ins)."""

from __future__ import annotations

import csv
import re
from datetime import UTC, date, datetime

from django.template import Context, Template
from django.utils import timezone, translation

from cases.intake.list_names import list_rows_named
from cases.intake.selectors import finding_list_rows_for
from cases.intake.triage import triage_rows
from cases.intake.triage_choices import triage_choices_for
from cases.kernel import times
from cases.kernel.models import AuditEvent

MOMENT = datetime(2026, 12, 2, 11, 24, 5, tzinfo=UTC)


def _render(source: str, **context: object) -> str:
    return Template(source).render(Context(context))


def test_a_utc_time_shows_in_a_kst_agency_as_kst_with_its_label(settings) -> None:
    settings.TIME_ZONE = "Asia/Seoul"
    assert _render("{{ t|when }}", t=MOMENT) == "2026-12-02 20:24 KST"
    # Past midnight in Seoul: the local date, not the UTC one.
    late = datetime(2026, 12, 2, 16, 30, tzinfo=UTC)
    assert _render("{{ t|when_date }}", t=late) == "2026-12-03"


def test_a_utc_agency_shows_utc(settings) -> None:
    settings.TIME_ZONE = "UTC"
    assert _render("{{ t|when }}", t=MOMENT) == "2026-12-02 11:24 UTC"
    # Evidence times do not repeat UTC beside UTC.
    assert _render("{{ t|when_evidence }}", t=MOMENT) == "2026-12-02 11:24:05 UTC"


def test_a_zone_without_an_abbreviation_is_labelled_by_its_offset() -> None:
    with timezone.override("Asia/Bangkok"):
        assert times.when(MOMENT) == "2026-12-02 18:24 UTC+7"
    with timezone.override("Asia/Kolkata"):
        assert times.when(MOMENT).endswith("IST") or times.when(MOMENT).endswith("UTC+5:30")


def test_korean_has_its_own_date_format(settings) -> None:
    settings.TIME_ZONE = "Asia/Seoul"
    with translation.override("ko"):
        assert _render("{{ t|when }}", t=MOMENT) == "2026년 12월 2일 20:24 KST"
        assert _render("{{ d|when_date }}", d=date(2026, 1, 5)) == "2026년 1월 5일"
    with translation.override("en"):
        assert _render("{{ d|when_date }}", d=date(2026, 1, 5)) == "2026-01-05"


def test_an_evidence_time_shows_the_agency_zone_and_utc(settings) -> None:
    settings.TIME_ZONE = "Asia/Seoul"
    assert _render("{{ t|when_evidence }}", t=MOMENT) == (
        "2026-12-02 20:24:05 KST (2026-12-02 11:24:05 UTC)"
    )
    with translation.override("ko"):
        assert (
            times.when_evidence(MOMENT) == "2026년 12월 2일 20:24:05 KST (2026-12-02 11:24:05 UTC)"
        )


def test_an_iso_string_read_back_from_json_is_shown_the_same_way(settings) -> None:
    settings.TIME_ZONE = "Asia/Seoul"
    assert times.when_evidence(MOMENT.isoformat()) == times.when_evidence(MOMENT)
    assert times.when("not a time") == "not a time"


def test_nothing_shows_nothing() -> None:
    assert _render("[{{ t|when }}][{{ t|when_date }}][{{ t|when_evidence }}]", t=None) == "[][][]"


def test_csv_cells_are_iso_like_and_the_header_names_the_zone(settings) -> None:
    settings.TIME_ZONE = "Asia/Seoul"
    assert times.csv_time(MOMENT) == "2026-12-02 20:24:05"
    assert times.csv_zone_header("week") == "week (Asia/Seoul, KST)"


def test_the_weekly_csv_names_its_zone(client, carol, finding, settings) -> None:
    settings.TIME_ZONE = "UTC"
    client.force_login(carol)
    body = client.get("/stats/export.csv?table=weekly").content.decode("utf-8-sig")
    assert next(csv.reader(body.splitlines()))[0] == "week (UTC)"


def test_triage_rows_carry_the_labelled_time(finding, bob, settings) -> None:
    settings.TIME_ZONE = "Asia/Seoul"
    rows = list(finding_list_rows_for(bob, triage=True))
    [row] = triage_rows(list_rows_named(rows, triage_choices_for(finding.agency)))
    assert row.recorded == times.when(finding.created_at)
    assert row.recorded.endswith(" KST")


def test_the_finding_page_shows_labelled_times_and_no_bare_format(
    client, bob, finding, settings
) -> None:
    settings.TIME_ZONE = "Asia/Seoul"
    client.force_login(bob)
    page = client.get(f"/findings/{finding.pk}/").content.decode()
    recorded = AuditEvent.objects.filter(object_type="finding", object_id=str(finding.pk)).first()
    assert recorded is not None
    assert times.when(recorded.created_at) in page
    # The old mixed formats: "Dec. 2, 2026", "12/02/2026 7:24 a.m.".
    assert not re.search(
        r"\b[A-Z][a-z]{2}\. \d{1,2}, \d{4}\b|\d{1,2}/\d{1,2}/\d{4}|[ap]\.m\.", page
    )

    settings.TIME_ZONE = "UTC"
    page = client.get(f"/findings/{finding.pk}/").content.decode()
    assert (
        times.when(recorded.created_at).endswith(" UTC") and times.when(recorded.created_at) in page
    )
    assert " KST" not in page
