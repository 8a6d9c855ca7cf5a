"""Paths written out for speed at a million findings (issue 12) give exactly what the
generic code gives."""

from __future__ import annotations

import datetime as dt

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases.intake import triage
from cases.intake.api import FindingSerializer
from cases.intake.filters import SORTS
from cases.intake.models import Finding, FindingStatus
from cases.intake.selectors import finding_list_for, finding_list_rows_for
from cases.intake.services.findings import finding_set_status
from tests.factories import make_finding


class GenericFindingSerializer(FindingSerializer):
    """The same fields through DRF's per-field path, from models."""

    def to_representation(self, instance):  # type: ignore[no-untyped-def]
        return super(FindingSerializer, self).to_representation(instance)


def test_api_list_rows_equal_drfs_generic_serialisation(agency, bob, carol, artist):
    plain = make_finding(agency, "https://vimeo.com/plain", actor=bob)
    rich = make_finding(agency, "https://www.youtube.com/watch?v=rich", actor=bob, artists=[artist])
    finding_set_status(finding=rich, actor=bob, status=FindingStatus.DISMISSED, reason="fan art")
    Finding.objects.filter(pk=rich.pk).update(
        assignee=carol, captured_at=timezone.now() - dt.timedelta(days=2), notes="x"
    )
    ids = [plain.pk, rich.pk]
    # The list page serialises plain rows; DRF's generic path serialises the models.
    rows = list(finding_list_rows_for(bob).filter(pk__in=ids).order_by("pk"))
    models = list(finding_list_for(bob).filter(pk__in=ids).order_by("pk"))
    assert rows and all(isinstance(row, dict) for row in rows)
    fast = FindingSerializer(rows, many=True).data
    generic = GenericFindingSerializer(models, many=True).data
    assert [dict(row) for row in fast] == [dict(row) for row in generic]
    by_id = {row["id"]: row for row in fast}
    # The contrary cases are really there: nested objects, a list, set and unset times.
    assert by_id[rich.pk]["assignee"] == {"id": carol.pk, "username": carol.username}
    assert by_id[rich.pk]["artists"][0]["id"] == artist.pk
    assert by_id[rich.pk]["platform"] is not None and by_id[plain.pk]["assignee"] is None
    assert by_id[rich.pk]["dismissed_at"] and by_id[plain.pk]["dismissed_at"] is None
    assert list(fast[0]) == list(generic[0])  # same keys in the same order


def test_triage_rows_built_in_python_escape_and_follow_the_role(client, agency, bob, carol, artist):
    artist.stage_name = "<i>Yuna</i>"
    artist.save()
    finding = make_finding(agency, "https://vimeo.com/1", actor=bob, artists=[artist])
    client.force_login(bob)
    page = client.get("/findings/").content.decode()
    assert '<span class="tag">&lt;i&gt;Yuna&lt;/i&gt;</span>' in page
    assert "<i>Yuna</i>" not in page
    assert f'name="ids" value="{finding.pk}"' in page
    assert f'data-href="/findings/{finding.pk}/"' in page
    client.force_login(carol)  # a viewer: no selection boxes
    page = client.get("/findings/").content.decode()
    assert f'data-finding-id="{finding.pk}"' in page
    assert 'name="ids"' not in page


def _page_ids(rf, user, number: int) -> tuple[list[int], bool]:  # type: ignore[no-untyped-def]
    ordered = finding_list_for(user).order_by(*SORTS["newest"])
    page = triage.finding_page(rf.get(f"/findings/?page={number}"), ordered)
    return [f.pk for f in page.items], page.has_next


def test_deep_pages_pick_ids_first_and_show_the_same_rows(rf, monkeypatch, agency, bob):
    for n in range(8):
        make_finding(agency, f"https://vimeo.com/{n}", actor=bob)
    monkeypatch.setattr(triage, "PAGE_SIZE", 3)
    monkeypatch.setattr(triage, "DEEP_OFFSET", 10**9)  # plain OFFSET
    plain = [_page_ids(rf, bob, n) for n in (1, 2, 3, 4)]
    monkeypatch.setattr(triage, "DEEP_OFFSET", 0)  # every page through the id subquery
    with CaptureQueriesContext(connection) as ctx:
        deep = [_page_ids(rf, bob, n) for n in (1, 2, 3, 4)]
    assert deep == plain
    assert [len(ids) for ids, _ in deep] == [3, 3, 2, 0] and deep[1][1] and not deep[2][1]
    assert any(" IN (SELECT " in q["sql"] and "OFFSET" in q["sql"] for q in ctx.captured_queries)


def test_a_last_page_gives_the_exact_total_without_a_query(rf, agency, bob):
    for n in range(3):
        make_finding(agency, f"https://vimeo.com/{n}", actor=bob)
    ordered = finding_list_for(bob).order_by(*SORTS["newest"])
    page = triage.finding_page(rf.get("/findings/"), ordered)
    with CaptureQueriesContext(connection) as ctx:
        total = triage.finding_total(ordered, page)
    assert (total.count, total.about, len(ctx.captured_queries)) == (3, False, 0)
    # Contrary case: a page with more after it does not know the total and asks.
    more = triage.Page(items=page.items[:1], number=1, has_next=True)
    with CaptureQueriesContext(connection) as ctx:
        total = triage.finding_total(ordered, more)
    assert total.count == 3 and len(ctx.captured_queries) >= 1


def test_the_per_page_time_format_is_the_one_time_format_in_each_language():
    from django.utils import translation

    from cases.kernel.times import when

    base = dt.datetime(2026, 12, 2, 7, 24, 5, tzinfo=dt.UTC)
    values = [base, base + dt.timedelta(seconds=40), base + dt.timedelta(minutes=1), None]
    for language in ("en", "ko"):
        with translation.override(language):
            short = triage.short_formatter()
            for value in values * 2:  # the second pass reads what the first stored
                expected = "" if value is None else when(value)
                assert short(value) == expected
    # Contrary case: different minutes do not share a text.
    with translation.override("en"):
        short = triage.short_formatter()
        assert short(base) != short(base + dt.timedelta(minutes=1))
