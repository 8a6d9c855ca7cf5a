"""Each finding's artists' ids kept on the finding by database triggers on the link table
(cases/intake/artist_ids_sql.py): the list pages name a page's artists from them. Every path
that writes links is exercised here, on SQLite locally and on PostgreSQL in CI, and the
result compared with a recomputation from the link table itself."""

from __future__ import annotations

from django.db import connection

from cases.agency.models import Artist
from cases.intake.artist_ids_sql import ARTIST_IDS, LINKS, artist_ids_parse, rebuild_sql
from cases.intake.models import Finding
from cases.intake.selectors import finding_list_rows_for
from cases.intake.services.imports import import_job_create, import_job_run
from tests.factories import ArtistFactory, make_finding

Link = Finding.artists.through


def _kept(finding: Finding) -> set[int]:
    text = Finding.objects.filter(pk=finding.pk).values_list("artist_ids", flat=True)[0]
    return set(artist_ids_parse(text))


def _linked() -> dict[int, set[int]]:
    links: dict[int, set[int]] = {pk: set() for pk in Finding.objects.values_list("pk", flat=True)}
    for finding_id, artist_id in Link.objects.values_list("finding_id", "artist_id"):
        links[finding_id].add(artist_id)
    return links


def _all_kept() -> dict[int, set[int]]:
    return {
        pk: set(artist_ids_parse(text))
        for pk, text in Finding.objects.values_list("pk", "artist_ids")
    }


def _consistent() -> None:
    """Every finding's kept ids are its links, and a rebuild from the table changes none."""
    assert _all_kept() == _linked()
    before = dict(Finding.objects.values_list("pk", "artist_ids"))
    with connection.cursor() as cursor:
        cursor.execute(rebuild_sql(connection.vendor))
    assert dict(Finding.objects.values_list("pk", "artist_ids")) == before


def test_recording_with_artists_and_every_orm_path_keep_the_ids(agency, bob, artist) -> None:  # type: ignore[no-untyped-def]
    other = ArtistFactory(agency=agency, stage_name="Mina")
    finding = make_finding(agency, "https://ids.example/1", actor=bob, artists=[artist])
    bare = make_finding(agency, "https://ids.example/2", actor=bob)
    assert _kept(finding) == {artist.pk} and _kept(bare) == set()
    finding.artists.add(other)
    assert _kept(finding) == {artist.pk, other.pk}
    finding.artists.remove(artist)
    assert _kept(finding) == {other.pk}
    finding.artists.set([artist, other])
    assert _kept(finding) == {artist.pk, other.pk}
    bare.artists.set([other])
    finding.artists.clear()
    assert _kept(finding) == set() and _kept(bare) == {other.pk}
    _consistent()


def test_bulk_writes_raw_updates_and_cascades_keep_the_ids(agency, bob, artist) -> None:  # type: ignore[no-untyped-def]
    other = ArtistFactory(agency=agency, stage_name="Mina")
    findings = [make_finding(agency, f"https://ids.example/{n}", actor=bob) for n in range(3)]
    Link.objects.bulk_create([Link(finding_id=f.pk, artist_id=artist.pk) for f in findings])
    assert all(_kept(f) == {artist.pk} for f in findings)
    Link.objects.filter(finding_id=findings[0].pk).update(artist_id=other.pk)  # a merge's move
    assert _kept(findings[0]) == {other.pk}
    Artist.objects.filter(pk=artist.pk).delete()  # its links go with it
    assert _kept(findings[1]) == set() and _kept(findings[0]) == {other.pk}
    _consistent()


def test_a_finding_loaded_before_a_link_changed_does_not_write_back_the_old_ids(
    agency, bob, artist
) -> None:  # type: ignore[no-untyped-def]
    finding = make_finding(agency, "https://ids.example/stale", actor=bob)
    stale = Finding.objects.get(pk=finding.pk)
    finding.artists.add(artist)
    stale.notes = "edited"
    stale.save()
    assert _kept(finding) == {artist.pk}


def test_an_import_writes_the_ids_with_its_findings(agency, bob, artist) -> None:  # type: ignore[no-untyped-def]
    ArtistFactory(agency=agency, stage_name="Mina")
    text = "url,artist\nhttps://imp.example/1,Yuna\nhttps://imp.example/2,Yuna|Mina\nhttps://imp.example/3,\n"
    job = import_job_create(agency=agency, actor=bob, text=text, filename="t.csv")
    import_job_run(job_id=job.pk)
    kept = {url: _kept(f) for url, f in ((f.canonical_url, f) for f in Finding.objects.all())}
    mina = Artist.objects.get(stage_name="Mina").pk
    assert kept["https://imp.example/1"] == {artist.pk}
    assert kept["https://imp.example/2"] == {artist.pk, mina}
    assert kept["https://imp.example/3"] == set()
    _consistent()


def test_the_list_rows_read_the_kept_ids_and_no_link_table(agency, bob, artist) -> None:  # type: ignore[no-untyped-def]
    make_finding(agency, "https://ids.example/row", actor=bob, artists=[artist])
    [row] = finding_list_rows_for(bob)
    assert row["artist_ids"] == str(artist.pk)
    for triage in (False, True):
        assert LINKS not in str(finding_list_rows_for(bob, triage=triage).query)


def test_dropped_triggers_are_put_back_after_migrate_on_sqlite(agency, bob, artist) -> None:  # type: ignore[no-untyped-def]
    """SQLite: the triggers exist only outside `migrate`; ensure() after it installs them and
    recomputes what was written meanwhile (on PostgreSQL they stay and it does nothing)."""
    finding = make_finding(agency, "https://ids.example/m", actor=bob)
    if connection.vendor == "sqlite":
        ARTIST_IDS.drop_before_migrate()
        finding.artists.add(artist)
        assert _kept(finding) == set()  # the contrary case: nothing kept it
        ARTIST_IDS.ensure_after_migrate()
        assert _kept(finding) == {artist.pk}  # recomputed
        finding.artists.clear()
    ARTIST_IDS.ensure_after_migrate()
    finding.artists.add(artist)
    assert _kept(finding) == {artist.pk}
    _consistent()
