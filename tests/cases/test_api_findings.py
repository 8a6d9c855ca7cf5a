"""The findings API: recording with dedupe, bad input, filters, cursor pages, edits, status."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cases.agency.models import Platform
from cases.intake.models import Finding, FindingStatus
from cases.kernel.models import AuditEvent
from tests.factories import ArtistFactory, make_finding

LIST = reverse("api:finding-list")


def _client(user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_login(user)
    return client


def _detail(finding: Finding) -> str:
    return reverse("api:finding-detail", args=[finding.pk])


def _status(finding: Finding) -> str:
    return reverse("api:finding-status", args=[finding.pk])


# ---------------------------------------------------------------------------- recording


def test_recording_a_new_url_is_201_and_a_duplicate_is_200(bob, artist) -> None:  # type: ignore[no-untyped-def]
    client = _client(bob)
    first = client.post(
        LIST,
        {
            "url": "https://www.YouTube.com/watch?v=abc&utm_source=x",
            "artists": [artist.pk],
            "notes": "seen on tv",
        },
        format="json",
    )
    assert first.status_code == 201
    body = first.json()
    assert body["duplicate"] is False
    assert body["canonical_url"] == "https://www.youtube.com/watch?v=abc"
    assert body["source"] == "api"
    assert body["platform"]["name"] == "YouTube"
    assert [a["id"] for a in body["artists"]] == [artist.pk]
    assert body["notes"] == "seen on tv"

    again = client.post(LIST, {"url": "https://www.youtube.com/watch?v=abc#t=10"}, format="json")
    assert again.status_code == 200
    assert again.json()["duplicate"] is True
    assert again.json()["id"] == body["id"]
    assert Finding.objects.count() == 1


def test_recording_writes_the_audit_trail(bob) -> None:  # type: ignore[no-untyped-def]
    response = _client(bob).post(LIST, {"url": "https://x.com/a/status/1"}, format="json")
    event = AuditEvent.objects.get(action="finding.recorded", object_id=str(response.json()["id"]))
    assert event.actor == bob
    assert event.data["source"] == "api"


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("javascript:alert(1)", "Only http and https URLs can be recorded (got 'javascript:')."),
        ("ftp://files.example.com/a.mp4", "Only http and https URLs can be recorded (got 'ftp:')."),
        ("", "The URL is empty."),
        ("   ", "The URL is empty."),
        ("not a url at all", "The URL contains spaces or control characters."),
        ("https://", "The URL has no host name."),
        ("localhost/x", "The network policy refuses this host: 'localhost' is a local host name."),
        ("https://example.com/" + "a" * 4100, "The URL is longer than 4096 characters."),
    ],
)
def test_an_invalid_url_is_400_with_the_reason_and_nothing_is_written(
    bob, url: str, reason: str
) -> None:  # type: ignore[no-untyped-def]
    client = _client(bob)  # logging in is itself audited, so count after it
    events = AuditEvent.objects.count()
    response = client.post(LIST, {"url": url}, format="json")
    assert response.status_code == 400
    assert response.json() == {"url": [reason]}
    assert not Finding.objects.exists()
    assert AuditEvent.objects.count() == events


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({}, "url", "This field is required."),
        ({"url": None}, "url", "This field may not be null."),
        ({"url": ["https://example.com/a"]}, "url", "Not a valid string."),
        (
            {"url": "https://example.com/a", "artists": "1"},
            "artists",
            'Expected a list of items but got type "str".',
        ),
        (
            {"url": "https://example.com/a", "artists": ["x"]},
            "artists",
            "A valid integer is required.",
        ),
    ],
)
def test_badly_shaped_bodies_are_400(bob, body: dict, field: str, message: str) -> None:  # type: ignore[no-untyped-def]
    response = _client(bob).post(LIST, body, format="json")
    assert response.status_code == 400
    assert message in str(response.json()[field])
    assert not Finding.objects.exists()


def test_malformed_json_is_400(bob) -> None:  # type: ignore[no-untyped-def]
    response = _client(bob).post(
        LIST, '{"url": "https://example.com/a",', content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error")
    assert not Finding.objects.exists()


def test_artist_ids_of_another_agency_are_400(bob, other_agency, artist) -> None:  # type: ignore[no-untyped-def]
    foreign = ArtistFactory(agency=other_agency)
    response = _client(bob).post(
        LIST,
        {"url": "https://example.com/a", "artists": [artist.pk, foreign.pk, 999999]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json() == {"artists": [f"Not found in your agency: {foreign.pk}, 999999."]}
    assert not Finding.objects.exists()


def test_a_viewer_cannot_record(carol) -> None:  # type: ignore[no-untyped-def]
    response = _client(carol).post(LIST, {"url": "https://example.com/a"}, format="json")
    assert response.status_code == 403
    assert (
        response.json()["detail"]
        == "Your role can only read: writing needs the admin or legal role."
    )
    assert not Finding.objects.exists()


def test_the_same_url_in_another_agency_is_a_new_finding(bob, mallory, finding) -> None:  # type: ignore[no-untyped-def]
    response = _client(mallory).post(LIST, {"url": finding.url}, format="json")
    assert response.status_code == 201
    assert response.json()["id"] != finding.pk
    assert response.json()["artists"] == []


# ---------------------------------------------------------------------------- reading


def test_the_list_pages_with_a_cursor_and_never_counts(bob, agency) -> None:  # type: ignore[no-untyped-def]
    for n in range(5):
        make_finding(agency, f"https://example.com/page/{n}")
    client = _client(bob)
    first = client.get(LIST, {"page_size": 2}).json()
    assert "count" not in first
    assert first["previous"] is None
    seen = [row["id"] for row in first["results"]]
    url = first["next"]
    while url:
        page = client.get(url).json()
        seen += [row["id"] for row in page["results"]]
        url = page["next"]
    assert seen == list(Finding.objects.order_by("-created_at", "-id").values_list("pk", flat=True))


def test_the_list_shows_rows_without_url_or_notes(bob, finding) -> None:  # type: ignore[no-untyped-def]
    row = _client(bob).get(LIST).json()["results"][0]
    assert row["canonical_url"] == finding.canonical_url
    assert "notes" not in row and "url" not in row
    assert row["artists"] == [
        {"id": finding.artists.get().pk, "stage_name": "Yuna", "name_hangul": "유나"}
    ]


def test_the_detail_shows_url_and_notes(bob, finding) -> None:  # type: ignore[no-untyped-def]
    body = _client(bob).get(_detail(finding)).json()
    assert body["url"] == finding.url
    assert body["notes"] == ""


def test_filters_by_status_artist_platform_source_and_search(bob, agency, artist) -> None:  # type: ignore[no-untyped-def]
    youtube = make_finding(agency, "https://www.youtube.com/watch?v=one", artists=[artist])
    tiktok = make_finding(agency, "https://www.tiktok.com/@x/video/2", source="import")
    other = make_finding(agency, "https://blog.example.org/post", notes="needle in notes")
    Finding.objects.filter(pk=tiktok.pk).update(status=FindingStatus.TRIAGED)
    client = _client(bob)

    def ids(**params: object) -> set[int]:
        response = client.get(LIST, params)
        assert response.status_code == 200, response.json()
        return {row["id"] for row in response.json()["results"]}

    assert ids(status="triaged") == {tiktok.pk}
    assert ids(status=["triaged", "new"]) == {youtube.pk, tiktok.pk, other.pk}
    assert ids(artist=artist.pk) == {youtube.pk}
    assert ids(platform=Platform.objects.get(agency=agency, name="YouTube").pk) == {youtube.pk}
    assert ids(source="import") == {tiktok.pk}
    assert ids(q="needle") == {other.pk}
    assert ids(q="tiktok") == {tiktok.pk}


def test_an_unknown_status_filter_is_400(bob) -> None:  # type: ignore[no-untyped-def]
    response = _client(bob).get(LIST, {"status": "bogus"})
    assert response.status_code == 400
    assert "bogus" in str(response.json()["status"])


def test_filtering_by_another_agencys_artist_finds_nothing(mallory, finding) -> None:  # type: ignore[no-untyped-def]
    artist_id = finding.artists.get().pk
    assert _client(mallory).get(LIST, {"artist": artist_id}).json()["results"] == []


def _queries_for_a_page(user, agency, total: int) -> int:  # type: ignore[no-untyped-def]
    artists = [ArtistFactory(agency=agency) for _ in range(3)]
    for n in range(Finding.objects.filter(agency=agency).count(), total):
        make_finding(agency, f"https://www.youtube.com/watch?v=q{n}", artists=artists[: n % 4])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    client.get(LIST)  # the agency's names go to the cache (cases.intake.triage_choices)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(LIST)
    assert response.status_code == 200
    assert len(response.json()["results"]) == min(total, 50)
    assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)
    return len(queries.captured_queries)


def test_a_page_costs_the_same_queries_with_5_or_60_findings(bob, agency) -> None:  # type: ignore[no-untyped-def]
    small = _queries_for_a_page(bob, agency, 5)
    large = _queries_for_a_page(bob, agency, 60)
    assert small == large
    assert large <= 5  # session, user, two-factor, membership, the page (artists' ids in it)


# ---------------------------------------------------------------------------- editing


def test_patch_changes_artists_assignee_and_notes(bob, alice, artist, finding) -> None:  # type: ignore[no-untyped-def]
    client = _client(bob)
    response = client.patch(
        _detail(finding), {"artists": [], "assignee": alice.pk, "notes": "look"}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["artists"] == [] and body["assignee"] == {"id": alice.pk, "username": "alice"}
    assert body["notes"] == "look"
    event = AuditEvent.objects.filter(action="finding.updated").latest("seq")
    assert event.data == {"artists": [], "assignee": "alice", "notes": True}

    unassigned = client.patch(_detail(finding), {"assignee": None}, format="json")
    assert unassigned.json()["assignee"] is None
    assert unassigned.json()["notes"] == "look"


def test_patch_refuses_an_assignee_or_artist_of_another_agency(
    bob, mallory, other_agency, finding
) -> None:  # type: ignore[no-untyped-def]
    client = _client(bob)
    response = client.patch(_detail(finding), {"assignee": mallory.pk}, format="json")
    assert response.status_code == 400
    assert response.json() == {"assignee": [f"Not found in your agency: {mallory.pk}."]}
    foreign = ArtistFactory(agency=other_agency)
    response = client.patch(_detail(finding), {"artists": [foreign.pk]}, format="json")
    assert response.status_code == 400
    finding.refresh_from_db()
    assert finding.assignee is None
    assert finding.artists.count() == 1


def test_findings_cannot_be_deleted_or_replaced(alice, finding) -> None:  # type: ignore[no-untyped-def]
    client = _client(alice)
    assert client.delete(_detail(finding)).status_code == 405
    assert client.put(_detail(finding), {"notes": "x"}, format="json").status_code == 405
    assert Finding.objects.filter(pk=finding.pk).exists()


def test_a_viewer_cannot_patch_or_change_status(carol, finding) -> None:  # type: ignore[no-untyped-def]
    client = _client(carol)
    assert client.patch(_detail(finding), {"notes": "x"}, format="json").status_code == 403
    assert client.post(_status(finding), {"status": "triaged"}, format="json").status_code == 403
    finding.refresh_from_db()
    assert finding.notes == "" and finding.status == "new"


def test_status_action_moves_the_finding_and_audits(bob, finding) -> None:  # type: ignore[no-untyped-def]
    response = _client(bob).post(_status(finding), {"status": "triaged"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "triaged"
    assert response.json()["triaged_at"]
    event = AuditEvent.objects.filter(action="finding.status_changed").latest("seq")
    assert event.data == {"from": "new", "to": "triaged", "reason": ""}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"status": "removed"}, {"status": ["A finding cannot move from New to Removed."]}),
        ({"status": "dismissed"}, {"status": ["Dismissing a finding needs a reason."]}),
        ({"status": "new"}, {"status": ["The finding is already New."]}),
        ({"status": "gone"}, {"status": ['"gone" is not a valid choice.']}),
        ({}, {"status": ["This field is required."]}),
    ],
)
def test_a_refused_status_change_is_400_with_the_reason(
    bob, finding, body: dict, message: dict
) -> None:  # type: ignore[no-untyped-def]
    client = _client(bob)
    events = AuditEvent.objects.count()
    response = client.post(_status(finding), body, format="json")
    assert response.status_code == 400
    assert response.json() == message
    finding.refresh_from_db()
    assert finding.status == "new"
    assert AuditEvent.objects.count() == events


def test_dismissing_with_a_reason_works(bob, finding) -> None:  # type: ignore[no-untyped-def]
    response = _client(bob).post(
        _status(finding), {"status": "dismissed", "reason": "parody"}, format="json"
    )
    assert response.json()["dismissed_reason"] == "parody"


def test_an_outsider_gets_404_for_a_finding(mallory, finding) -> None:  # type: ignore[no-untyped-def]
    client = _client(mallory)
    assert client.get(_detail(finding)).status_code == 404
    assert client.patch(_detail(finding), {"notes": "x"}, format="json").status_code == 404
    assert client.post(_status(finding), {"status": "triaged"}, format="json").status_code == 404
    finding.refresh_from_db()
    assert finding.status == "new" and finding.notes == ""
