"""The triage queue at scale and its ergonomics: trigram search on PostgreSQL, dashboard
counts from counters, rows prepared once per page, the artist filter without DISTINCT,
"assigned to me", notice columns, assignable members, the estimated total and saved views."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from cases.intake import triage
from cases.intake.canonical import canonicalize_url_host
from cases.intake.filters import FindingFilter
from cases.intake.models import Finding, FindingStatus, SavedView
from cases.intake.selectors import finding_list_for
from cases.intake.services.findings import finding_set_status
from cases.intake.services.saved_views import saved_view_save
from cases.kernel.models import Role
from cases.notices.models import Notice, NoticeStatus
from cases.notices.services.drafts import notice_create
from tests.factories import MembershipFactory, UserFactory, make_finding


def _ids(content: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-finding-id="(\d+)"', content)]


def _findings(agency, actor, count: int, **kwargs) -> list[Finding]:  # type: ignore[no-untyped-def]
    return [
        make_finding(agency, f"https://www.youtube.com/watch?v=t{n}", actor=actor, **kwargs)
        for n in range(count)
    ]


# --- Search: trigram GIN on PostgreSQL ------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "index"),
    [
        ("canonical_url", "finding_url_trgm"),
        ("notes", "finding_notes_trgm"),
    ],
)
def test_search_uses_the_trigram_index_on_postgresql(pg, agency, bob, column, index):
    _findings(agency, bob, 3)
    queryset = FindingFilter({"q": "needle"}, queryset=Finding.objects.all()).qs
    sql, params = queryset.values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        # With a few rows a sequential scan is cheaper; forbid it to see which index the
        # search can use at all (at a million rows the planner picks it by itself).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert f"Bitmap Index Scan on {index}" in plan, plan
    assert f"upper({column}" in plan or f"upper(({column})" in plan, plan


def test_the_host_is_searched_through_the_url_it_is_part_of():
    """The search looks in the canonical URL and the notes only: every host is a substring
    of its canonical URL, so a host match is a URL match (IPv6, ports, IDN, userinfo and
    upper case included)."""
    for raw in [
        "https://www.YouTube.com/watch?v=1",
        "http://[2606:4700:4700::1111]:8080/a",
        "https://user:pw@example.com/x",
        "https://bücher.example/ä",
        "example.org:443/path",
        "https://sub.domain.co.kr/x?utm_source=y",
    ]:
        canonical, host = canonicalize_url_host(raw)
        assert host and host.upper() in canonical.upper(), (raw, canonical, host)


def test_search_finds_substrings_in_url_host_and_notes(client, bob, agency):
    url = make_finding(agency, "https://vimeo.com/needle-1", actor=bob)
    notes = make_finding(agency, "https://vimeo.com/2", actor=bob, notes="A NeEdLe in notes")
    host = make_finding(agency, "https://needle.example/3", actor=bob)
    make_finding(agency, "https://vimeo.com/other", actor=bob)
    client.force_login(bob)
    content = client.get(reverse("finding_list"), {"q": "needle"}).content.decode()
    assert sorted(_ids(content)) == sorted([url.pk, notes.pk, host.pk])


# --- Dashboard counts --------------------------------------------------------------------


def test_the_dashboard_reads_counters_and_sees_a_status_change(client, carol, bob, agency):
    first, _second = _findings(agency, bob, 2)
    client.force_login(carol)
    with CaptureQueriesContext(connection) as queries:
        client.get(reverse("dashboard"))
    grouped = [
        q["sql"]
        for q in queries.captured_queries
        if "GROUP BY" in q["sql"].upper() and 'FROM "cases_finding"' in q["sql"]
    ]
    assert grouped == []  # the dashboard never groups the findings, first request included
    finding_set_status(finding=first, status=FindingStatus.TRIAGED, actor=bob)
    content = client.get(reverse("dashboard")).content.decode()
    triaged = re.search(r'stat status-triaged".*?stat-value">(\d+)<', content, re.S)
    assert triaged and triaged.group(1) == "1", content


def test_the_counts_of_one_agency_are_not_anothers(client, bob, mallory, agency, other_agency):
    _findings(agency, bob, 3)
    client.force_login(mallory)
    content = client.get(reverse("dashboard")).content.decode()
    assert ">3<" not in content


# --- Rows prepared once, bounded queries -------------------------------------------------


def test_the_queue_shows_notice_status_and_due_date_in_bounded_queries(
    client, bob, agency, django_assert_max_num_queries
):
    findings = _findings(agency, bob, 12)
    due = timezone.now() + dt.timedelta(days=7)
    for finding in findings[:6]:
        notice = notice_create(
            agency=agency,
            actor=bob,
            findings=[finding],
            legal_basis="platform_policy",
            explanation="x",
        )
        Notice.objects.filter(pk=notice.pk).update(
            status=NoticeStatus.SENT, sent_at=timezone.now(), due_at=due, rendered_sha256="0" * 64
        )
    client.force_login(bob)
    client.get(reverse("finding_list"))  # the filter bar's lists go to the cache
    # Session, user, second login step, membership, the page (one table: the newest notice
    # and the artists' ids are kept on the finding); the names come from the cache; the
    # total is known from the page (12 findings): no count, no estimate.
    with django_assert_max_num_queries(5):
        content = client.get(reverse("finding_list")).content.decode()
    assert content.count("data-notice-status") == 6
    assert str(NoticeStatus.SENT.label) in content
    assert str(due.astimezone(timezone.get_current_timezone()).year) in content
    # The detail link is built from one prefix, and it still resolves.
    assert f'href="{reverse("finding_detail", args=[findings[0].pk])}"' in content


def test_the_artist_filter_uses_exists_not_distinct(bob, agency, artist):
    tagged = make_finding(agency, "https://vimeo.com/1", actor=bob, artists=[artist])
    make_finding(agency, "https://vimeo.com/2", actor=bob)
    queryset = FindingFilter({"artist": artist.pk}, queryset=finding_list_for(bob)).qs
    sql = str(queryset.query).upper()
    assert "EXISTS" in sql
    assert "DISTINCT" not in sql
    assert list(queryset) == [tagged]


# --- Ergonomics --------------------------------------------------------------------------


def test_assigned_to_me_shows_only_my_findings(client, bob, alice, agency):
    mine, theirs, nobodys = _findings(agency, bob, 3)
    Finding.objects.filter(pk=mine.pk).update(assignee=bob)
    Finding.objects.filter(pk=theirs.pk).update(assignee=alice)
    client.force_login(bob)
    assert _ids(client.get(reverse("finding_list"), {"mine": "1"}).content.decode()) == [mine.pk]
    everything = _ids(client.get(reverse("finding_list")).content.decode())
    assert sorted(everything) == sorted([mine.pk, theirs.pk, nobodys.pk])


def test_viewers_are_not_offered_as_assignees(client, bob, carol, finding):
    client.force_login(bob)
    for page in (reverse("finding_list"), reverse("finding_detail", args=[finding.pk])):
        content = client.get(page).content.decode()
        assert ">bob<" in content or "bob</option>" in content
        assert "carol" not in content, page


def test_a_viewer_cannot_be_assigned(client, bob, carol, finding):
    client.force_login(bob)
    client.post(reverse("finding_update", args=[finding.pk]), {"assignee": carol.pk})
    finding.refresh_from_db()
    assert finding.assignee_id is None


def test_the_total_is_exact_below_the_limit(client, bob, agency):
    _findings(agency, bob, 3)
    client.force_login(bob)
    assert "3 findings" in client.get(reverse("finding_list")).content.decode()


def test_the_total_above_the_limit_is_an_estimate(client, bob, agency, monkeypatch):
    monkeypatch.setattr(triage, "EXACT_LIMIT", 2)
    # Pages of two, so the first has a next page and does not tell the total by itself.
    monkeypatch.setattr(triage, "PAGE_SIZE", 2)
    _findings(agency, bob, 5)
    client.force_login(bob)
    with CaptureQueriesContext(connection) as queries:
        content = client.get(reverse("finding_list")).content.decode()
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert all("LIMIT 3" in sql for sql in counts), counts  # never counts the whole table
    if connection.vendor == "postgresql":
        assert re.search(r"About \d+ findings", content), content
    else:
        assert "More than 2 findings" in content


def test_the_keyboard_shortcuts_are_listed_on_the_page(client, bob, finding):
    client.force_login(bob)
    content = client.get(reverse("finding_list")).content.decode()
    for key in ("j", "k", "x", "o", "t", "d", "/", "?"):
        assert f"<kbd>{key}</kbd>" in content


# --- Saved views -------------------------------------------------------------------------


def test_a_saved_view_keeps_the_filters_and_opens_them(client, bob, agency):
    client.force_login(bob)
    response = client.post(
        reverse("saved_view_create"),
        {"name": "New on TikTok", "query": "q=tiktok&status=new&page=4&junk=1"},
    )
    view = SavedView.objects.get(owner=bob)
    assert view.query == "q=tiktok&status=new"  # no page, no unknown parameters
    assert view.agency == agency and not view.shared
    assert response["Location"] == reverse("finding_list") + "?q=tiktok&status=new"
    content = client.get(reverse("finding_list")).content.decode()
    assert "New on TikTok" in content and "?q=tiktok&amp;status=new" in content


def test_a_private_view_is_its_owners_and_a_shared_one_the_agencys(client, bob, alice, agency):
    saved_view_save(agency=agency, owner=bob, name="Bob private", query="q=a", shared=False)
    saved_view_save(agency=agency, owner=bob, name="Bob shared", query="q=b", shared=True)
    client.force_login(alice)
    content = client.get(reverse("finding_list")).content.decode()
    assert "Bob shared" in content
    assert "Bob private" not in content


def test_only_the_owner_deletes_a_view(client, bob, alice, agency):
    view = saved_view_save(agency=agency, owner=bob, name="Shared", query="q=x", shared=True)
    client.force_login(alice)
    assert client.post(reverse("saved_view_delete", args=[view.pk])).status_code == 404
    client.force_login(bob)
    client.post(reverse("saved_view_delete", args=[view.pk]))
    assert not SavedView.objects.filter(pk=view.pk).exists()


def test_the_outsider_sees_and_deletes_no_view_of_another_agency(client, bob, mallory, agency):
    view = saved_view_save(agency=agency, owner=bob, name="AURORA VIEW", query="q=x", shared=True)
    client.force_login(mallory)
    assert "AURORA VIEW" not in client.get(reverse("finding_list")).content.decode()
    assert client.post(reverse("saved_view_delete", args=[view.pk])).status_code == 404
    assert SavedView.objects.filter(pk=view.pk).exists()


def test_a_viewer_cannot_save_a_view(client, carol):
    client.force_login(carol)
    response = client.post(reverse("saved_view_create"), {"name": "x", "query": "q=x"})
    assert response.status_code == 403
    assert not SavedView.objects.exists()


def test_a_member_of_two_roles_sees_views_of_own_agency_only(agency, other_agency):
    # Views shared in another agency never reach this one's list.
    outsider = MembershipFactory(
        agency=other_agency, role=Role.LEGAL, user=UserFactory(username="o")
    ).user
    saved_view_save(agency=other_agency, owner=outsider, name="Elsewhere", query="", shared=True)
    member = MembershipFactory(agency=agency, role=Role.LEGAL, user=UserFactory(username="m")).user
    assert list(triage.saved_view_list_for(member)) == []
