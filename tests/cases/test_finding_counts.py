"""The dashboard's per-agency counters (cases_findingcount) equal a fresh GROUP BY after every
kind of write, whatever wrote it, on SQLite and PostgreSQL alike; a damaged counter is found
and fixed by `manage.py finding_counts_check`."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, F
from django.db.models.signals import post_migrate
from django.urls import reverse

from cases.agency.models import Artist, Platform
from cases.intake.counts import finding_counts_compare
from cases.intake.models import Finding, FindingCount
from cases.intake.selectors import finding_counts_for
from cases.intake.services.findings import (
    finding_bulk_set_status,
    finding_platform_refresh,
    finding_set_status,
    finding_update,
)
from cases.intake.services.imports import import_job_create, import_job_run
from cases.kernel.models import Agency
from tests.factories import ArtistFactory, make_finding

pytestmark = pytest.mark.django_db


def group_by(agency: Agency) -> dict[tuple[str, str], int]:
    """The counters a fresh count gives, with the ORM (independent of the triggers' SQL)."""
    findings = Finding.objects.filter(agency=agency)
    expected: dict[tuple[str, str], int] = {}
    for status, n in findings.values_list("status").annotate(n=Count("id")).order_by():
        expected["status", status] = n
    for platform_id, n in findings.values_list("platform_id").annotate(n=Count("id")).order_by():
        expected["platform", "" if platform_id is None else str(platform_id)] = n
    artists = Artist.objects.filter(agency=agency).annotate(n=Count("findings")).filter(n__gt=0)
    for pk, n in artists.values_list("pk", "n"):
        expected["artist", str(pk)] = n
    return expected


def counters(agency: Agency) -> dict[tuple[str, str], int]:
    rows = FindingCount.objects.filter(agency=agency).exclude(count=0)
    return {(d, k): n for d, k, n in rows.values_list("dimension", "key", "count")}


def assert_exact(agency: Agency) -> None:
    assert counters(agency) == group_by(agency)


@pytest.fixture
def findings(agency, bob, artist):  # type: ignore[no-untyped-def]
    return [
        make_finding(agency, "https://www.youtube.com/watch?v=c1", actor=bob, artists=[artist]),
        make_finding(agency, "https://www.tiktok.com/@fan/video/2", actor=bob, artists=[artist]),
        make_finding(agency, "https://fakes.example/3", actor=bob),
    ]


def test_recording_findings_counts_them_by_status_platform_and_artist(agency, findings, artist):
    youtube = Platform.objects.get(agency=agency, name="YouTube")
    assert counters(agency)["status", "new"] == 3
    assert counters(agency)["platform", str(youtube.pk)] == 1
    assert counters(agency)["platform", ""] == 1  # the unknown host
    assert counters(agency)["artist", str(artist.pk)] == 2
    assert_exact(agency)


def test_status_changes_single_and_bulk_move_the_counters(agency, bob, findings):
    finding_set_status(finding=findings[0], status="triaged", actor=bob)
    assert_exact(agency)
    changed, refused = finding_bulk_set_status(findings=findings, status="dismissed", actor=bob, reason="fan art")  # fmt: skip
    assert (changed, refused) == (3, [])
    assert counters(agency)["status", "dismissed"] == 3
    assert ("status", "new") not in counters(agency)
    assert_exact(agency)


def test_platform_refresh_and_platform_delete_move_the_platform_counter(agency, findings):
    finding = findings[2]  # fakes.example: no platform
    finding_platform_refresh(finding=finding, final_url="https://www.youtube.com/watch?v=c3")
    youtube = Platform.objects.get(agency=agency, name="YouTube")
    assert counters(agency)["platform", str(youtube.pk)] == 2
    assert_exact(agency)
    youtube.delete()  # the findings' platform is set to NULL
    assert counters(agency)["platform", ""] == 2
    assert_exact(agency)


def test_artist_links_added_and_removed_move_the_artist_counter(agency, bob, findings, artist):
    second = ArtistFactory(agency=agency, stage_name="Mina")
    finding_update(finding=findings[2], actor=bob, artists=[artist, second])
    assert counters(agency)["artist", str(artist.pk)] == 3
    finding_update(finding=findings[0], actor=bob, artists=[])
    findings[1].artists.remove(artist)
    assert counters(agency)["artist", str(artist.pk)] == 1
    assert_exact(agency)
    second.delete()
    assert_exact(agency)


def test_an_import_counts_its_findings(agency, bob, artist, findings):
    """COPY on PostgreSQL (the statement-level triggers see the whole COPY), INSERT on SQLite."""
    text = "url,artist\nhttps://a.example/1,Yuna\nhttps://www.youtube.com/watch?v=i2,\nbad,\n"
    import_job_run(job_id=import_job_create(agency=agency, actor=bob, text=text).pk)
    assert counters(agency)["status", "new"] == 5
    assert counters(agency)["artist", str(artist.pk)] == 3
    assert_exact(agency)


def test_writes_around_the_services_keep_the_counters_exact(agency, bob, findings, artist):
    Finding.objects.filter(agency=agency).update(status="captured")
    Finding.objects.bulk_create(
        [
            Finding(agency=agency, url=f"https://b.example/{n}", canonical_url=f"https://b.example/{n}",
                    canonical_hash=f"{n:064d}", host="b.example")
            for n in range(4)
        ]
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("UPDATE cases_finding SET status = 'removed' WHERE host = %s", ["b.example"])
        cursor.execute("DELETE FROM cases_finding_artists WHERE finding_id = %s", [findings[0].pk])
    assert counters(agency)["status", "removed"] == 4
    assert_exact(agency)


def test_deleting_findings_and_everything_of_an_agency(agency, other_agency, mallory, findings):
    make_finding(other_agency, "https://www.youtube.com/watch?v=n1", actor=mallory)
    findings[0].delete()
    assert counters(agency)["status", "new"] == 2
    assert_exact(agency)
    Platform.objects.filter(agency=agency).delete()  # findings' platform set to NULL
    Artist.objects.filter(agency=agency).delete()  # links deleted first
    Finding.objects.filter(agency=agency).delete()
    assert counters(agency) == {}
    assert_exact(other_agency)


def test_a_deleted_agency_takes_its_counters_along(other_agency, mallory):
    """An agency with an audit trail cannot be deleted (PROTECT); one without (made here
    around the services) cascades, and counters its cascade moves go with the agency."""
    bare = Agency.objects.create(name="Bare", slug="bare")
    platform = Platform.objects.create(agency=bare, name="Bare platform", domains=["bare.example"])
    artist = ArtistFactory(agency=bare, stage_name="Solo")
    finding = Finding.objects.create(
        agency=bare, url="https://bare.example/1", canonical_url="https://bare.example/1",
        canonical_hash="1" * 64, host="bare.example", platform=platform,
    )  # fmt: skip
    finding.artists.add(artist)
    make_finding(other_agency, "https://www.youtube.com/watch?v=n1", actor=mallory)
    assert_exact(bare)
    bare_id = bare.pk
    bare.delete()
    assert not FindingCount.objects.filter(agency_id=bare_id).exists()
    assert_exact(other_agency)
    assert finding_counts_compare() == []


def test_the_dashboard_shows_the_counters_and_its_empty_states(
    client, agency, bob, carol, findings
):  # type: ignore[no-untyped-def]
    client.force_login(carol)
    counts = finding_counts_for(carol)
    assert counts["total"] == 3 and counts["by_status"] == {"new": 3}
    assert {row["platform__name"] for row in counts["by_platform"]} == {"YouTube", "TikTok", None}
    assert [(row["stage_name"], row["n"]) for row in counts["by_artist"]] == [("Yuna", 2)]
    content = client.get(reverse("dashboard")).content.decode()
    assert "Yuna" in content and "YouTube" in content
    Finding.objects.filter(agency=agency).delete()
    content = client.get(reverse("dashboard")).content.decode()
    assert "No findings are linked to an artist yet." in content
    assert "No findings yet." in content
    assert finding_counts_for(carol) == {"by_status": {}, "by_platform": [], "by_artist": [], "total": 0}  # fmt: skip


def test_a_damaged_counter_is_found_and_fixed_by_the_check_command(agency, findings, capsys):
    call_command("finding_counts_check")
    assert "match" in capsys.readouterr().out
    FindingCount.objects.filter(agency=agency, dimension="status", key="new").update(count=F("count") + 5)  # fmt: skip
    FindingCount.objects.create(agency=agency, dimension="status", key="removed", count=2)
    mismatches = finding_counts_compare(agency_id=agency.pk)
    assert [(m.key, m.stored, m.actual) for m in mismatches] == [("new", 8, 3), ("removed", 2, 0)]
    with pytest.raises(CommandError, match="2 finding counter"):
        call_command("finding_counts_check", "--agency", agency.slug)
    call_command("finding_counts_check", "--fix")
    assert "2 finding counter(s) rewritten" in capsys.readouterr().out
    assert_exact(agency)
    assert finding_counts_compare() == []


def test_triggers_a_sqlite_table_rebuild_dropped_come_back_after_migrate(agency, bob):
    names = {"findingcount_finding_ins", "findingcount_finding_upd", "findingcount_finding_del",
             "findingcount_link_ins", "findingcount_link_upd", "findingcount_link_del",
             "findingcount_agency_del"}  # fmt: skip

    def installed() -> set[str]:
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
            else:
                cursor.execute("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal")
            return {row[0] for row in cursor.fetchall()} & names

    assert installed() == names
    if connection.vendor == "sqlite":  # what a rebuild of cases_finding does to its triggers
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER findingcount_finding_ins")
        assert "findingcount_finding_ins" not in installed()
    post_migrate.send(sender=apps.get_app_config("cases"), app_config=apps.get_app_config("cases"), using="default", verbosity=0, interactive=False, plan=[], apps=apps)  # fmt: skip
    assert installed() == names
    make_finding(agency, "https://www.youtube.com/watch?v=after", actor=bob)
    assert_exact(agency)
