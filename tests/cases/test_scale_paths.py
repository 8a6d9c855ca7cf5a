"""Paths written out for speed at a million findings (issue 12) give exactly what the
generic code gives."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from cases.intake import selectors, triage
from cases.intake.api import FindingSerializer
from cases.intake.filters import SORTS, FindingFilter
from cases.intake.list_names import list_rows_named
from cases.intake.models import Finding, FindingStatus
from cases.intake.selectors import (
    finding_list_for,
    finding_list_rows_for,
)
from cases.intake.services.findings import finding_set_status
from cases.intake.triage_choices import triage_choices_for
from tests.factories import make_finding


class GenericFindingSerializer(FindingSerializer):
    """The same fields through DRF's per-field path, from models."""

    def to_representation(self, instance):  # type: ignore[no-untyped-def]
        return super(FindingSerializer, self).to_representation(instance)


@pytest.mark.parametrize("zone", ["UTC", "Asia/Seoul"])  # "Z", and the agency's offset
def test_api_list_rows_equal_drfs_generic_serialisation(agency, bob, carol, artist, zone):
    plain = make_finding(agency, "https://vimeo.com/plain", actor=bob)
    rich = make_finding(agency, "https://www.youtube.com/watch?v=rich", actor=bob, artists=[artist])
    finding_set_status(finding=rich, actor=bob, status=FindingStatus.DISMISSED, reason="fan art")
    Finding.objects.filter(pk=rich.pk).update(
        assignee=carol, captured_at=timezone.now() - dt.timedelta(days=2), notes="x"
    )
    ids = [plain.pk, rich.pk]
    # The list page serialises plain rows; DRF's generic path serialises the models.
    rows = list(finding_list_rows_for(bob).filter(pk__in=ids).order_by("pk"))
    list_rows_named(rows, triage_choices_for(agency))
    models = list(finding_list_for(bob).filter(pk__in=ids).order_by("pk"))
    assert rows and all(isinstance(row, dict) for row in rows)
    with timezone.override(zone):
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
    assert fast[0]["created_at"].endswith("Z" if zone == "UTC" else "+09:00")


def test_triage_rows_built_in_python_escape_and_follow_the_role(client, agency, bob, carol, artist):
    artist.stage_name = "<i>Yuna</i>"
    artist.save()
    finding = make_finding(agency, "https://vimeo.com/1", actor=bob, artists=[artist])
    make_finding(agency, "https://vimeo.com/2", actor=bob, artists=[artist])  # escaped once
    client.force_login(bob)
    page = client.get("/findings/").content.decode()
    assert page.count('<span class="tag">&lt;i&gt;Yuna&lt;/i&gt;</span>') == 2
    assert "<i>Yuna</i>" not in page
    assert f'name="ids" value="{finding.pk}"' in page
    assert f'data-href="/findings/{finding.pk}/"' in page
    client.force_login(carol)  # a viewer: no selection boxes
    page = client.get("/findings/").content.decode()
    assert f'data-finding-id="{finding.pk}"' in page
    assert 'name="ids"' not in page


def _page_ids(rf, user, number: int) -> tuple[list[int], bool]:  # type: ignore[no-untyped-def]
    # The queue's own rows (plain dicts), as the triage view reads them.
    ordered = finding_list_rows_for(user, triage=True).order_by(*SORTS["newest"])
    page = triage.finding_page(rf.get(f"/findings/?page={number}"), ordered)
    return [f["id"] for f in page.items], page.has_next


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

    from cases.kernel.times import when, when_many

    base = dt.datetime(2026, 12, 2, 7, 24, 5, tzinfo=dt.UTC)
    values = [base, base + dt.timedelta(seconds=40), base + dt.timedelta(minutes=1), None]
    # A zone with an abbreviation, UTC, and one the database only numbers ("-03").
    for zone in ("Asia/Seoul", "UTC", "America/Sao_Paulo"):
        for language in ("en", "ko"):
            with translation.override(language), timezone.override(zone):
                short = when_many()
                for value in values * 2:  # the second pass reads what the first stored
                    expected = "" if value is None else when(value)
                    assert short(value) == expected, (zone, language)
    # Contrary case: different minutes do not share a text.
    with translation.override("en"):
        short = when_many()
        assert short(base) != short(base + dt.timedelta(minutes=1))


def test_lean_filter_sets_keep_each_requests_own_state(rf, agency, bob, carol):
    """Filters copied shallowly (LeanFilterSet): each filter set's method filters use its
    own request, and the class's filters are never changed by an instance."""
    mine = make_finding(agency, "https://vimeo.com/bobs", actor=bob)
    make_finding(agency, "https://vimeo.com/carols", actor=bob)
    Finding.objects.filter(pk=mine.pk).update(assignee=bob)
    requests = {user: rf.get("/findings/", {"mine": "1"}) for user in (bob, carol)}
    for user, request in requests.items():
        request.user = user
    sets = {
        user: FindingFilter(request.GET, queryset=Finding.objects.all(), request=request)
        for user, request in requests.items()
    }
    assert [f.pk for f in sets[bob].qs] == [mine.pk]
    assert list(sets[carol].qs) == []  # carol has none: bob's request did not leak into hers
    assert sets[bob].filters["mine"] is not sets[carol].filters["mine"]
    assert sets[bob].filters["mine"].filter.f is sets[bob].filters["mine"]
    for name, base in FindingFilter.base_filters.items():
        assert not hasattr(base, "parent"), name
        assert sets[bob].filters[name].parent is sets[bob]
    # One form class per set of named filters; an invalid value is still this instance's.
    assert type(sets[bob].form) is type(sets[carol].form)
    bad = FindingFilter({"platform": "x"}, queryset=Finding.objects.all(), request=None)
    assert "platform" in bad.errors and not sets[bob].errors


QUERIES = [
    {},
    {"status": ["new", "triaged"]},
    {"status": [""], "q": ["  "]},
    {"q": ["vimeo"], "mine": ["1"], "no_artist": ["1"]},
    {"mine": ["0"], "no_artist": [""], "source": ["import"], "sort": ["oldest"]},
    {"artist": ["1"], "platform": ["2"], "assignee": ["3"], "created_after": ["2026-01-01"]},
    {"created_before": ["2026-13-40"], "platform": ["x"], "status": ["bogus"], "artist": ["-1"]},
    {"created_after": ["2026-01-01T00:00:00+23:00"], "assignee": [str(2**63)]},
]


@pytest.mark.parametrize("query", QUERIES)
def test_a_form_of_the_named_filters_filters_and_fails_as_the_full_form(rf, bob, query):
    """LeanFilterSet validates only the filters the query string names: the same SQL and
    the same errors as the form with every filter (all_fields), named or not."""
    request = rf.get("/findings/", query)
    request.user = bob
    lean = FindingFilter(request.GET, queryset=Finding.objects.all(), request=request)
    full = FindingFilter(request.GET, queryset=Finding.objects.all(), request=request)
    full.all_fields = True
    assert set(lean.form.fields) == set(query) & set(FindingFilter.base_filters)
    assert set(full.form.fields) == set(FindingFilter.base_filters)
    assert lean.errors == full.errors
    assert str(lean.qs.query) == str(full.qs.query)


def test_the_browsable_api_offers_every_filter(client, bob, finding):
    client.force_login(bob)
    page = client.get("/api/findings/?status=new", HTTP_ACCEPT="text/html").content.decode()
    for name in FindingFilter.base_filters:
        assert f'name="{name}"' in page, name


def test_list_templates_are_cloned_and_scoped_per_user(agency, bob, mallory):
    """The list querysets are built once per process (selectors._list_rows): every
    caller gets its own scoped clone, and the template itself is never filtered."""
    make_finding(agency, "https://vimeo.com/ours", actor=bob)
    for queue in (False, True):
        ours = finding_list_rows_for(bob, triage=queue)
        assert [f["canonical_url"] for f in ours] == ["https://vimeo.com/ours"]
        assert list(finding_list_rows_for(mallory, triage=queue)) == []
    for template in (selectors._list_rows(True), selectors._list_rows(False)):
        assert not template.query.where  # no agency filter, no other filter left behind


def test_filter_bar_options_mark_every_selected_value_and_escape_both_sides():
    from cases.intake.triage_choices import options_html

    html = options_html([("new", "New"), ('a"b', "<x>"), ("triaged", "Triaged")], ["new", 'a"b'])
    assert '<option value="new" selected>New</option>' in html  # several selected: statuses
    assert '<option value="a&quot;b" selected>&lt;x&gt;</option>' in html
    assert '<option value="triaged">Triaged</option>' in html
    assert " selected" not in options_html([(1, "One")], "2")  # one value: an id
    assert '<option value="1" selected>' in options_html([(1, "One")], "1")


def test_list_templates_are_built_once_per_thread():
    """Clones share their template's subquery expressions, whose compilation briefly
    changes join counts: a thread reuses its own template, never another thread's."""
    import threading

    mine = selectors._list_rows(True)
    assert selectors._list_rows(True) is mine and selectors._list_rows(False) is not mine
    theirs = []
    worker = threading.Thread(target=lambda: theirs.append(selectors._list_rows(True)))
    worker.start()
    worker.join()
    assert theirs and theirs[0] is not mine
    assert str(theirs[0].query) == str(mine.query)
