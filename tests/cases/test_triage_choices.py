"""The triage filter bar's cached lists (cases/intake/triage_choices.py): per agency, fresh
after every change, and read from the database when the cache is down."""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from cases.agency.models import Platform
from cases.intake.models import SavedView
from cases.kernel.models import Role
from tests.factories import ArtistFactory, MembershipFactory, UserFactory


def _queue(client) -> str:  # type: ignore[no-untyped-def]
    response = client.get(reverse("finding_list"))
    assert response.status_code == 200
    return response.content.decode()


def test_another_agencys_artist_never_appears_in_my_filter_bar(
    client, bob, mallory, other_agency, artist
):
    ArtistFactory(agency=other_agency, stage_name="Nebula-Only-Star", name_hangul="네뷸라")
    Platform.objects.create(agency=other_agency, name="Nebula-Only-Platform", domains=[])
    SavedView.objects.create(
        agency=other_agency, owner=mallory, name="Nebula shared view", query="q=x", shared=True
    )
    # The other agency warms the cache first.
    client.force_login(mallory)
    theirs = _queue(client)
    assert "Nebula-Only-Star" in theirs and "Nebula shared view" in theirs
    client.force_login(bob)
    mine = _queue(client)
    assert "Yuna" in mine
    for name in ("Nebula-Only-Star", "Nebula-Only-Platform", "Nebula shared view", "mallory"):
        assert name not in mine
    # And the other way round, with my lists cached now.
    client.force_login(mallory)
    assert "Yuna" not in _queue(client)


def test_the_lists_are_cached_and_follow_every_change(client, bob, agency, artist):
    client.force_login(bob)
    _queue(client)
    with CaptureQueriesContext(connection) as warm:
        _queue(client)
    for table in ("cases_artist", "cases_platform", "cases_membership", "cases_savedview"):
        # (the membership of the request itself is read with its agency joined)
        reads = [q["sql"] for q in warm.captured_queries if f'FROM "{table}" ' in q["sql"]]
        assert len(reads) == (1 if table == "cases_membership" else 0), (table, reads)

    ArtistFactory(agency=agency, stage_name="Newcomer", name_hangul="뉴커머")
    assert "Newcomer" in _queue(client)
    Platform.objects.create(agency=agency, name="Brand-New-Host", domains=[])
    assert "Brand-New-Host" in _queue(client)
    dave = MembershipFactory(agency=agency, role=Role.LEGAL, user=UserFactory(username="dave"))
    assert ">dave</option>" in _queue(client)
    # A member made read-only is no longer offered as an assignee.
    dave.role = Role.VIEWER
    dave.save()
    assert ">dave</option>" not in _queue(client)
    # A renamed member shows the new name.
    bob.username = "bobby"
    bob.save()
    assert ">bobby</option>" in _queue(client)
    # A private saved view of someone else is never offered; a shared one is.
    alice = MembershipFactory(agency=agency, role=Role.ADMIN, user=UserFactory(username="al")).user
    view = SavedView.objects.create(agency=agency, owner=alice, name="Alice private", query="")
    assert "Alice private" not in _queue(client)
    view.shared = True
    view.save()
    assert "Alice private" in _queue(client)
    view.delete()
    assert "Alice private" not in _queue(client)


def test_the_queue_works_when_the_cache_is_down(client, bob, agency, artist, monkeypatch):
    from cases.intake import triage, triage_choices

    class Down:
        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            def fail(*args: object, **kwargs: object) -> None:
                raise ConnectionError("cache unreachable")

            return fail

    monkeypatch.setattr(triage_choices, "cache", Down())
    monkeypatch.setattr(triage, "cache", Down())
    client.force_login(bob)
    assert "Yuna" in _queue(client)
    ArtistFactory(agency=agency, stage_name="Offline-Added")
    assert "Offline-Added" in _queue(client)
