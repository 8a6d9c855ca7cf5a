"""Recording findings and working the triage queue through the web UI."""

from __future__ import annotations

import re

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.intake.models import Finding, FindingSource, FindingStatus
from cases.intake.services.fan_reports import fan_report_submit
from cases.intake.services.findings import finding_set_status
from cases.intake.triage import EXACT_LIMIT
from cases.kernel.models import AuditEvent
from cases.legal.services.legal_cases import case_create
from tests.factories import ArtistFactory, make_finding

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _messages(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m) for m in get_messages(response.wsgi_request)]


def _make_findings(agency, actor, count: int, artist=None) -> None:  # type: ignore[no-untyped-def]
    for n in range(count):
        make_finding(
            agency,
            f"https://www.example.com/clip/{n}",
            actor=actor,
            artists=[artist] if artist else [],
        )


# --- Recording -----------------------------------------------------------------------------


def test_recording_a_url_creates_a_finding_and_opens_it(client, bob, artist):
    client.force_login(bob)
    response = client.post(
        reverse("finding_create"),
        {
            "url": "HTTPS://YouTube.com/watch?v=abc&utm_source=x",
            "artists": [artist.pk],
            "notes": "seen on a fan forum",
        },
    )
    finding = Finding.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("finding_detail", args=[finding.pk])
    assert finding.canonical_url == "https://youtube.com/watch?v=abc"
    assert finding.source == FindingSource.STAFF
    assert list(finding.artists.all()) == [artist]
    assert finding.notes == "seen on a fan forum"
    assert finding.created_by == bob
    assert "Finding recorded." in _messages(response)


def test_recording_a_duplicate_shows_the_existing_finding(client, bob, finding):
    client.force_login(bob)
    response = client.post(
        reverse("finding_create"),
        {"url": "https://www.youtube.com/watch?v=aurora-secret-1&fbclid=zzz#t=10"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == reverse("finding_detail", args=[finding.pk])
    assert Finding.objects.count() == 1
    content = response.content.decode()
    assert "This URL was already recorded on" in content
    assert "showing the existing finding" in content


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://files.example.com/a.mp4", "Only http and https URLs can be recorded"),
        ("javascript:alert(1)", "Only http and https URLs can be recorded"),
        ("https://exa mple.com/x", "spaces or control characters"),
        ("https://localhost/x", "is a local host name."),
    ],
)
def test_an_invalid_url_is_refused_with_the_reason(client, bob, url, reason):
    client.force_login(bob)
    response = client.post(reverse("finding_create"), {"url": url})
    assert response.status_code == 200
    assert reason in response.content.decode()
    assert not Finding.objects.exists()


def test_an_empty_url_is_refused(client, bob):
    client.force_login(bob)
    response = client.post(reverse("finding_create"), {"url": "  "})
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not Finding.objects.exists()


def test_artists_of_another_agency_cannot_be_attached(client, bob, other_agency):
    foreign = ArtistFactory(agency=other_agency, stage_name="Nebula star")
    client.force_login(bob)
    response = client.post(
        reverse("finding_create"), {"url": "https://example.com/x", "artists": [foreign.pk]}
    )
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Finding.objects.exists()


def test_the_form_offers_only_stage_names(client, bob, artist):
    client.force_login(bob)
    content = client.get(reverse("finding_create")).content.decode()
    assert "Yuna (유나)" in content
    assert "Kim Yuna-secret" not in content
    assert "Record finding" in content


# --- Detail, status, edit ------------------------------------------------------------------


def test_finding_detail_shows_everything_about_it(client, carol, agency, bob, finding, artist):
    fan_report_submit(
        agency=agency, url=finding.canonical_url, artist=artist, description="Fake video"
    )
    case = case_create(agency=agency, actor=bob, title="Ring of fakes", findings=[finding])
    client.force_login(carol)
    content = client.get(reverse("finding_detail", args=[finding.pk])).content.decode()
    assert finding.canonical_url in content
    assert "YouTube" in content
    assert "Yuna" in content
    assert "Fake video" in content
    assert case.reference in content
    assert "Finding recorded" in content  # the audit history, with human labels
    # A viewer sees no write forms.
    assert "Change status" not in content
    assert reverse("finding_update", args=[finding.pk]) not in content


def test_the_suspect_url_is_never_a_plain_link_and_never_embedded(client, bob, finding):
    client.force_login(bob)
    content = client.get(reverse("finding_detail", args=[finding.pk])).content.decode()
    links = re.findall(r"<a [^>]*href=\"https://www\.youtube\.com[^\"]*\"[^>]*>", content)
    assert links, "the detail page offers to open the page in a new tab"
    for link in links:
        assert 'rel="noopener noreferrer nofollow"' in link
        assert 'target="_blank"' in link
    assert "<iframe" not in content
    assert "<img" not in content
    assert "<video" not in content


def test_status_form_offers_only_allowed_next_statuses(client, bob, finding):
    client.force_login(bob)
    content = client.get(reverse("finding_detail", args=[finding.pk])).content.decode()
    form = content.split(f'action="{reverse("finding_status", args=[finding.pk])}"')[1].split(
        "</form>"
    )[0]
    assert '<select name="status"' in form
    assert 'value="triaged"' in form
    assert 'value="dismissed"' in form
    assert 'value="removed"' not in form
    assert "Change status" in form


def test_changing_the_status_records_it_in_the_audit_trail(client, bob, finding):
    client.force_login(bob)
    response = client.post(reverse("finding_status", args=[finding.pk]), {"status": "triaged"})
    assert response.status_code == 302
    finding.refresh_from_db()
    assert finding.status == FindingStatus.TRIAGED
    assert finding.triaged_at is not None
    event = AuditEvent.objects.filter(action="finding.status_changed").get()
    assert event.data["to"] == "triaged"
    assert event.actor == bob


def test_dismissing_without_a_reason_is_refused_with_a_message(client, bob, finding):
    client.force_login(bob)
    response = client.post(reverse("finding_status", args=[finding.pk]), {"status": "dismissed"})
    assert "Dismissing a finding needs a reason." in _messages(response)
    finding.refresh_from_db()
    assert finding.status == FindingStatus.NEW


def test_a_status_the_lifecycle_forbids_is_refused(client, bob, finding):
    client.force_login(bob)
    response = client.post(reverse("finding_status", args=[finding.pk]), {"status": "removed"})
    assert response.status_code == 302
    assert _messages(response)
    finding.refresh_from_db()
    assert finding.status == FindingStatus.NEW


def test_editing_sets_artists_assignee_and_notes(client, bob, alice, finding, agency):
    other = ArtistFactory(agency=agency, stage_name="Mina")
    client.force_login(bob)
    response = client.post(
        reverse("finding_update", args=[finding.pk]),
        {"artists": [other.pk], "assignee": alice.pk, "notes": "Check the uploader"},
    )
    assert response.status_code == 302
    finding.refresh_from_db()
    assert finding.assignee == alice
    assert finding.notes == "Check the uploader"
    assert list(finding.artists.all()) == [other]
    assert AuditEvent.objects.filter(action="finding.updated", object_id=str(finding.pk)).exists()


def test_only_staff_of_the_agency_can_be_assigned(client, bob, mallory, finding):
    client.force_login(bob)
    client.post(reverse("finding_update", args=[finding.pk]), {"assignee": mallory.pk})
    finding.refresh_from_db()
    assert finding.assignee is None


# --- The triage queue ----------------------------------------------------------------------


def test_the_queue_lists_findings_with_their_canonical_url(client, carol, finding):
    client.force_login(carol)
    content = client.get(reverse("finding_list")).content.decode()
    assert f'data-finding-id="{finding.pk}"' in content
    assert finding.canonical_url in content


def test_an_empty_queue_says_how_to_start(client, bob):
    client.force_login(bob)
    content = client.get(reverse("finding_list")).content.decode()
    assert "No findings yet — record a URL or import a list." in content


def test_the_queue_filters_by_status_search_and_artist(client, bob, agency, artist):
    _make_findings(agency, bob, 3)
    tagged = make_finding(agency, "https://vimeo.com/999", actor=bob, artists=[artist])
    triaged = make_finding(agency, "https://tiktok.com/@x/video/1", actor=bob)
    finding_set_status(finding=triaged, status="triaged", actor=bob)
    client.force_login(bob)

    def ids(**params) -> set[int]:  # type: ignore[no-untyped-def]
        content = client.get(reverse("finding_list"), params).content.decode()
        return {int(pk) for pk in re.findall(r'data-finding-id="(\d+)"', content)}

    assert ids(status="triaged") == {triaged.pk}
    assert ids(q="vimeo") == {tagged.pk}
    assert ids(artist=artist.pk) == {tagged.pk}
    assert len(ids()) == 5
    assert ids(q="nothing-matches") == set()
    assert (
        "No findings match these filters."
        in client.get(reverse("finding_list"), {"q": "nothing-matches"}).content.decode()
    )


def test_the_queue_sorts(client, bob, agency):
    first = make_finding(agency, "https://zzz.example.com/1", actor=bob)
    second = make_finding(agency, "https://aaa.example.com/2", actor=bob)
    client.force_login(bob)

    def order(sort: str) -> list[int]:
        content = client.get(reverse("finding_list"), {"sort": sort}).content.decode()
        return [int(pk) for pk in re.findall(r'data-finding-id="(\d+)"', content)]

    assert order("newest") == [second.pk, first.pk]
    assert order("oldest") == [first.pk, second.pk]
    assert order("host") == [second.pk, first.pk]
    assert order("not-a-sort") == [second.pk, first.pk]


def test_the_queue_pages_without_counting_the_table(client, bob, agency):
    _make_findings(agency, bob, 60)
    client.force_login(bob)
    with CaptureQueriesContext(connection) as queries:
        content = client.get(reverse("finding_list")).content.decode()
    assert len(re.findall(r'data-finding-id="', content)) == 50
    assert "?page=2" in content
    # The total is exact here (few findings), from a COUNT capped at EXACT_LIMIT + 1 rows:
    # no query counts the whole table.
    counts = [q["sql"].upper() for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts and all(f"LIMIT {EXACT_LIMIT + 1}" in sql for sql in counts), counts
    assert "60 findings" in content
    content = client.get(reverse("finding_list"), {"page": 2}).content.decode()
    assert len(re.findall(r'data-finding-id="', content)) == 10
    assert "?page=3" not in content
    # Junk page numbers fall back to the first page.
    assert client.get(reverse("finding_list"), {"page": "abc"}).status_code == 200


def _queue_queries(client) -> int:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("finding_list")).status_code == 200
    return len(queries.captured_queries)


def test_the_queue_runs_the_same_number_of_queries_for_10_and_60_findings(
    client, bob, agency, artist
):
    client.force_login(bob)
    _make_findings(agency, bob, 10, artist)
    _queue_queries(
        client
    )  # the filter bar's lists go to the cache (cases/intake/triage_choices.py)
    few = _queue_queries(client)
    _make_findings(agency, bob, 60, artist)
    assert Finding.objects.count() == 60  # 10 of the URLs were already recorded
    many = _queue_queries(client)
    # A queue that fits on one page knows its total from the page (no count, no estimate);
    # beyond that the number is fixed, however many findings there are.
    assert many - 2 <= few <= many
    _make_findings(agency, bob, 120, artist)
    # (one fewer on PostgreSQL once the planner's estimate of this queue is cached)
    assert many - 1 <= _queue_queries(client) <= many
    # Session, user, second login step (django-otp loads the session's device, or
    # cases.agency.middleware asks whether the user has one), membership, the page (one
    # table: the newest notice and the artists' ids are kept on the finding); plus the
    # capped total (and the planner's estimate before it on PostgreSQL, itself cached). The
    # filter bar's lists, the saved views and the rows' names come from the cache.
    assert many <= 7, many


def test_htmx_requests_get_only_the_results(client, bob, finding):
    client.force_login(bob)
    response = client.get(reverse("finding_list"), {"q": "youtube"}, HTTP_HX_REQUEST="true")
    content = response.content.decode()
    assert content.lstrip().startswith('<div id="results"')
    assert "<html" not in content
    assert f'data-finding-id="{finding.pk}"' in content


def test_the_queue_shows_the_keyboard_help(client, bob, finding):
    client.force_login(bob)
    content = client.get(reverse("finding_list")).content.decode()
    assert 'id="shortcut-help"' in content
    assert "<kbd>j</kbd>" in content
    assert "static/js/app.js" in content


# --- Bulk status change --------------------------------------------------------------------


def test_bulk_status_change_reports_changed_and_refused(client, bob, agency):
    a = make_finding(agency, "https://example.com/a", actor=bob)
    b = make_finding(agency, "https://example.com/b", actor=bob)
    finding_set_status(finding=b, status="dismissed", actor=bob, reason="not a fake")
    finding_set_status(finding=b, status="triaged", actor=bob)  # b is triaged already
    client.force_login(bob)
    next_url = reverse("finding_list") + "?status=new"
    response = client.post(
        reverse("finding_bulk_status"),
        {"ids": [a.pk, b.pk], "status": "triaged", "next": next_url},
    )
    assert response.status_code == 302
    assert response["Location"] == next_url
    messages = _messages(response)
    assert "1 finding changed to Triaged." in messages
    assert "1 finding was not changed:" in messages
    assert any(m.startswith(f"#{b.pk} ") and "already" in m for m in messages)
    a.refresh_from_db()
    assert a.status == FindingStatus.TRIAGED


def test_bulk_dismiss_needs_a_reason(client, bob, agency):
    a = make_finding(agency, "https://example.com/a", actor=bob)
    client.force_login(bob)
    response = client.post(reverse("finding_bulk_status"), {"ids": [a.pk], "status": "dismissed"})
    assert any("needs a reason" in m for m in _messages(response))
    response = client.post(
        reverse("finding_bulk_status"), {"ids": [a.pk], "status": "dismissed", "reason": "parody"}
    )
    a.refresh_from_db()
    assert a.status == FindingStatus.DISMISSED
    assert a.dismissed_reason == "parody"


def test_bulk_without_a_selection_says_so(client, bob, finding):
    client.force_login(bob)
    response = client.post(reverse("finding_bulk_status"), {"status": "triaged"})
    assert response.status_code == 302
    assert "Select at least one finding." in _messages(response)


def test_bulk_ignores_ids_of_another_agency(client, mallory, bob, finding, other_agency):
    theirs = make_finding(other_agency, "https://example.com/theirs", actor=mallory)
    client.force_login(bob)
    response = client.post(
        reverse("finding_bulk_status"), {"ids": [finding.pk, theirs.pk], "status": "triaged"}
    )
    assert "1 selected finding was not found." in _messages(response)
    theirs.refresh_from_db()
    assert theirs.status == FindingStatus.NEW
    finding.refresh_from_db()
    assert finding.status == FindingStatus.TRIAGED


def test_bulk_refuses_a_redirect_to_another_site(client, bob, finding):
    client.force_login(bob)
    response = client.post(
        reverse("finding_bulk_status"),
        {"ids": [finding.pk], "status": "triaged", "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("finding_list")


def _dashboard_queries(client) -> list[str]:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("dashboard")).status_code == 200
    return [q["sql"] for q in queries.captured_queries]


def test_the_dashboard_runs_the_same_queries_for_10_and_60_findings_and_counts_none(
    client, carol, agency, bob, artist
):
    client.force_login(carol)
    _make_findings(agency, bob, 10, artist)
    few = _dashboard_queries(client)
    _make_findings(agency, bob, 60, artist)
    many = _dashboard_queries(client)
    content = client.get(reverse("dashboard")).content.decode()
    assert len(few) == len(many)
    # The figures come from the counters: no COUNT over the findings or their artist links.
    counting = [s for s in many if "COUNT(" in s.upper() and '"cases_finding' in s]
    assert not counting
    assert ">60<" in content  # all findings, by status
    assert "Yuna" in content
