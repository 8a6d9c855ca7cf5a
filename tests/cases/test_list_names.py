"""The names the lists show beside their findings (cases/intake/list_names.py): the triage
queue and the findings API read one table for the page and take the platform, assignee and
artist names from the agency's cached maps. A name must be the current one after every
change, and present even where the cache lacks it."""

from __future__ import annotations

from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from cases.agency.models import Artist, Platform
from cases.intake.models import Finding
from cases.kernel.models import Membership, Role
from tests.factories import MembershipFactory, UserFactory, make_finding


def _api_row(user, finding):  # type: ignore[no-untyped-def]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    response = client.get("/api/findings/")
    assert response.status_code == 200
    return next(row for row in response.json()["results"] if row["id"] == finding.pk)


def _queue(client) -> str:  # type: ignore[no-untyped-def]
    response = client.get(reverse("finding_list"))
    assert response.status_code == 200
    return response.content.decode()


def test_renamed_platform_artist_and_assignee_show_their_new_names(client, agency, bob, artist):
    dave = MembershipFactory(agency=agency, role=Role.LEGAL, user=UserFactory(username="dave"))
    Platform.objects.create(agency=agency, name="Vimeo", domains=["vimeo.com"])
    finding = make_finding(agency, "https://vimeo.com/renamed", actor=bob, artists=[artist])
    assert finding.platform_id is not None
    Finding.objects.filter(pk=finding.pk).update(assignee=dave.user)
    client.force_login(bob)
    first = _api_row(bob, finding)
    assert first["platform"]["name"] == finding.platform.name
    assert first["assignee"] == {"id": dave.user.pk, "username": "dave"}
    assert [a["stage_name"] for a in first["artists"]] == [artist.stage_name]
    assert artist.stage_name in _queue(client)  # the maps are cached now

    platform = Platform.objects.get(pk=finding.platform_id)
    platform.name = "Vimeo (renamed)"
    platform.save()
    artist.stage_name, artist.name_hangul = "Yuna-Renamed", "유나새이름"
    artist.save()
    dave.user.username = "dave-renamed"
    dave.user.save()
    row = _api_row(bob, finding)
    assert row["platform"]["name"] == "Vimeo (renamed)"
    assert row["assignee"]["username"] == "dave-renamed"
    assert row["artists"] == [
        {"id": artist.pk, "stage_name": "Yuna-Renamed", "name_hangul": "유나새이름"}
    ]
    page = _queue(client)
    assert "Yuna-Renamed" in page and "Vimeo (renamed)" in page and "dave-renamed" in page


def test_names_the_cache_lacks_are_read_from_the_database(client, agency, bob, artist):
    """A former member still assigned, an artist written without signals (bulk_create):
    neither is in the cached maps, both are shown."""
    erin = MembershipFactory(agency=agency, role=Role.LEGAL, user=UserFactory(username="erin"))
    finding = make_finding(agency, "https://vimeo.com/former", actor=bob, artists=[artist])
    Finding.objects.filter(pk=finding.pk).update(assignee=erin.user)
    client.force_login(bob)
    _queue(client)  # maps cached with erin and one artist
    Membership.objects.filter(pk=erin.pk).delete()  # no signal: the map still has erin
    [quiet] = Artist.objects.bulk_create(
        [Artist(agency=agency, stage_name="Aaa-Silent", name_hangul="조용", legal_name="x")]
    )
    finding.artists.add(quiet)
    row = _api_row(bob, finding)
    assert [a["stage_name"] for a in row["artists"]] == ["Aaa-Silent", artist.stage_name]
    assert row["assignee"]["username"] == "erin"
    # With the maps rebuilt (erin is no member any more), erin is still named.
    Platform.objects.create(agency=agency, name="Any change", domains=[])  # invalidates
    assert _api_row(bob, finding)["assignee"]["username"] == "erin"
    assert "erin" in _queue(client) and "Aaa-Silent" in _queue(client)


def test_another_agencys_names_never_reach_my_rows(client, agency, other_agency, bob, mallory):
    """Each agency's maps are its own: my rows show my platform's name even after the other
    agency (same domains, other name) filled its cache first."""
    Platform.objects.create(agency=other_agency, name="Nebula-Vimeo", domains=["vimeo.com"])
    Platform.objects.create(agency=agency, name="Our Vimeo", domains=["vimeo.com"])
    theirs = make_finding(other_agency, "https://vimeo.com/same", actor=mallory)
    mine = make_finding(agency, "https://vimeo.com/same", actor=bob)
    assert _api_row(mallory, theirs)["platform"]["name"] == "Nebula-Vimeo"
    assert _api_row(bob, mine)["platform"]["name"] == "Our Vimeo"
    client.force_login(bob)
    assert "Nebula-Vimeo" not in _queue(client)


def test_a_row_deleted_between_the_pages_queries_is_left_out_not_an_error(agency, bob, artist):
    """The page's rows (with their artists' ids) and the names are read by separate
    queries: an artist, platform or user gone in between leaves no name, never a 500."""
    from cases.intake.list_names import list_rows_named
    from cases.intake.selectors import finding_list_rows_for
    from cases.intake.triage_choices import triage_choices_for

    platform = Platform.objects.create(agency=agency, name="Gone-Host", domains=["gone.test"])
    finding = make_finding(agency, "https://gone.test/1", actor=bob, artists=[artist])
    Finding.objects.filter(pk=finding.pk).update(assignee=bob)
    rows = list(finding_list_rows_for(bob))
    choices = triage_choices_for(agency)._replace(
        artist_names={}, platform_names={}, member_names={}
    )
    assert rows[0]["artist_ids"] == str(artist.pk)  # read before the artist goes
    Platform.objects.filter(pk=platform.pk).delete()  # its findings keep the stale id here
    Artist.objects.filter(pk=artist.pk).delete()
    [row] = list_rows_named(rows, choices)
    assert row["platform_name"] == "" and row["artists"] == []
    assert row["assignee_username"] == "bob"
