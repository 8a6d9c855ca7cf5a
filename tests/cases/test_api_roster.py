"""The roster API: artists and groups. Everyone in the agency reads; admins write; the
legal name is for admins and legal staff only."""

from __future__ import annotations

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from cases.agency.models import Artist, Group
from cases.kernel.models import AuditEvent
from tests.factories import GroupFactory

ARTISTS = reverse("api:artist-list")
GROUPS = reverse("api:group-list")


def _client(user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("persona", "sees_legal_name"), [("alice", True), ("bob", True), ("carol", False)]
)
def test_the_legal_name_is_shown_to_admins_and_legal_only(
    request, artist, persona: str, sees_legal_name: bool
) -> None:  # type: ignore[no-untyped-def]
    client = _client(request.getfixturevalue(persona))
    row = client.get(ARTISTS).json()["results"][0]
    detail = client.get(reverse("api:artist-detail", args=[artist.pk])).json()
    for body in (row, detail):
        assert body["stage_name"] == "Yuna"
        assert ("legal_name" in body) is sees_legal_name
    assert ("Kim Yuna-secret" in client.get(ARTISTS).content.decode()) is sees_legal_name


def test_an_admin_creates_an_artist_in_groups(alice, group) -> None:  # type: ignore[no-untyped-def]
    response = _client(alice).post(
        ARTISTS,
        {
            "stage_name": "Mina",
            "name_hangul": "미나",
            "legal_name": "Park Mina",
            "aliases": ["M"],
            "groups": [group.pk],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (
        body["groups"] == [group.pk]
        and body["aliases"] == ["M"]
        and body["legal_name"] == "Park Mina"
    )
    artist = Artist.objects.get(pk=body["id"])
    assert artist.agency == group.agency
    event = AuditEvent.objects.get(action="artist.created", object_id=str(artist.pk))
    assert "Park Mina" not in str(event.data)


def test_an_admin_updates_an_artist(alice, artist) -> None:  # type: ignore[no-untyped-def]
    url = reverse("api:artist-detail", args=[artist.pk])
    response = _client(alice).patch(url, {"active": False, "groups": []}, format="json")
    assert response.status_code == 200
    assert response.json()["active"] is False and response.json()["groups"] == []
    assert AuditEvent.objects.filter(action="artist.updated", object_id=str(artist.pk)).exists()


def test_a_duplicate_stage_name_is_400(alice, artist) -> None:  # type: ignore[no-untyped-def]
    response = _client(alice).post(ARTISTS, {"stage_name": "Yuna"}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "stage_name": ["Your agency already has an artist with this stage name."]
    }


def test_groups_of_another_agency_are_400(alice, other_agency) -> None:  # type: ignore[no-untyped-def]
    foreign = GroupFactory(agency=other_agency)
    response = _client(alice).post(
        ARTISTS, {"stage_name": "Mina", "groups": [foreign.pk]}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"groups": [f"Not found in your agency: {foreign.pk}."]}
    assert not Artist.objects.filter(stage_name="Mina").exists()


@pytest.mark.parametrize("persona", ["bob", "carol"])
def test_only_admins_change_the_roster(request, artist, group, persona: str) -> None:  # type: ignore[no-untyped-def]
    client = _client(request.getfixturevalue(persona))
    responses = [
        client.post(ARTISTS, {"stage_name": "Mina"}, format="json"),
        client.patch(
            reverse("api:artist-detail", args=[artist.pk]), {"active": False}, format="json"
        ),
        client.post(GROUPS, {"name": "Moonlight"}, format="json"),
        client.delete(reverse("api:group-detail", args=[group.pk])),
    ]
    assert [r.status_code for r in responses] == [403] * 4
    artist.refresh_from_db()
    assert artist.active and Artist.objects.count() == 1 and Group.objects.count() == 1


def test_artists_are_deactivated_not_deleted(alice, artist) -> None:  # type: ignore[no-untyped-def]
    assert _client(alice).delete(reverse("api:artist-detail", args=[artist.pk])).status_code == 405
    assert Artist.objects.filter(pk=artist.pk).exists()


def test_an_admin_manages_groups(alice, artist, group) -> None:  # type: ignore[no-untyped-def]
    client = _client(alice)
    listed = client.get(GROUPS).json()["results"]
    assert listed == [
        {
            "id": group.pk,
            "name": "Starlight",
            "name_hangul": "스타라이트",
            "active": True,
            "artist_count": 1,
        }
    ]

    created = client.post(GROUPS, {"name": "Moonlight", "name_hangul": "문라이트"}, format="json")
    assert created.status_code == 201 and created.json()["artist_count"] == 0
    new_id = created.json()["id"]
    renamed = client.patch(
        reverse("api:group-detail", args=[new_id]), {"name": "Moonlight II"}, format="json"
    )
    assert renamed.json()["name"] == "Moonlight II"
    duplicate = client.post(GROUPS, {"name": "Starlight"}, format="json")
    assert duplicate.status_code == 400
    assert duplicate.json() == {"name": ["Your agency already has a group with this name."]}

    assert client.delete(reverse("api:group-detail", args=[group.pk])).status_code == 204
    assert not Group.objects.filter(pk=group.pk).exists()
    assert list(artist.groups.all()) == []
    deleted = AuditEvent.objects.get(action="group.deleted")
    assert deleted.data == {"name": "Starlight", "artists": [artist.pk]}


def test_an_outsider_sees_no_artist_or_group(mallory, artist, group) -> None:  # type: ignore[no-untyped-def]
    client = _client(mallory)
    assert client.get(ARTISTS).json()["results"] == []
    assert client.get(GROUPS).json()["results"] == []
    assert client.get(reverse("api:artist-detail", args=[artist.pk])).status_code == 404
    assert client.delete(reverse("api:group-detail", args=[group.pk])).status_code == 404
    assert Group.objects.filter(pk=group.pk).exists()
