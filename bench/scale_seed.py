"""Seed N findings with PostgreSQL COPY for bench/scale_1m.py: one agency, 20 artists, every
finding linked to one artist (every seventh to a second one), a realistic spread of
statuses, sources, hosts, assignees and notes. Django must be set up on the target database
(importing this module does it)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

from common import note, setup_django, timer

setup_django()

from django.db import connection  # noqa: E402

from cases.agency.models import Artist  # noqa: E402
from cases.agency.services.platforms import PlatformIndex  # noqa: E402
from cases.intake.artist_ids_sql import artist_ids_text  # noqa: E402
from cases.intake.canonical import canonical_hash, host_of  # noqa: E402
from cases.intake.counts import finding_counts_rebuild  # noqa: E402
from cases.intake.models import Finding, FindingSource, FindingStatus  # noqa: E402
from cases.kernel.models import Agency  # noqa: E402

# Canonical already (no tracking parameters), so canonicalisation is not the seed's cost.
URLS = [
    "https://www.youtube.com/watch?v=bench{n}",
    "https://x.com/clips{u}/status/{n}",
    "https://www.tiktok.com/@fan{u}/video/{n}",
    "https://www.instagram.com/p/B{n}/",
    "https://www.reddit.com/r/bench{u}/comments/{n}/",
    "https://t.me/s/channel{u}/{n}",
    "https://gall.dcinside.com/board/view/?id=g{u}&no={n}",
    "https://fakes-{u}.example/watch/{n}",
]
STATUSES = [FindingStatus.NEW] * 4 + [FindingStatus.TRIAGED] * 2 + [
    FindingStatus.CAPTURED, FindingStatus.NOTICE_SENT, FindingStatus.REMOVED, FindingStatus.DISMISSED,
]  # fmt: skip
SOURCES = [FindingSource.STAFF, FindingSource.IMPORT, FindingSource.IMPORT,
           FindingSource.FAN_REPORT, FindingSource.API]  # fmt: skip
BATCH = 100_000


def _copy(table: str, columns: list[str], rows: list[str]) -> None:
    buffer = io.StringIO("".join(rows))
    with connection.cursor() as cursor:
        cursor.cursor.copy_expert(  # the psycopg2 cursor under Django's wrapper
            f'COPY "{table}" ({", ".join(columns)}) FROM STDIN', buffer
        )


def _secondary_indexes(table: str) -> list[tuple[str, str]]:
    """(name, definition) of the table's indexes that back no constraint."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
            "JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid "
            "WHERE t.relname = %s AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
            [table],
        )
        return list(cursor.fetchall())


def _finding_row(values: dict[str, Any], columns: list[str]) -> str:
    return "\t".join("\\N" if values.get(c) is None else str(values[c]) for c in columns) + "\n"


def seed(size: int, *, reuse: bool = False) -> tuple[Agency, Any, int, int]:
    """(agency, legal user, an artist id, the Instagram platform id); seeds unless `reuse`
    finds the bench agency with `size` findings already there."""
    from findings import seed_agency  # the 1k/100k bench's agency, user and artists

    agency = Agency.objects.filter(slug="bench").first()
    if reuse and agency and Finding.objects.filter(agency=agency).count() == size:
        note(f"reusing {size:,} seeded findings")
        legal = agency.memberships.get(user__username="bench.legal").user
        artists = list(Artist.objects.filter(agency=agency).order_by("id"))
    else:
        agency, legal, artists = seed_agency()
        with timer() as elapsed:
            _seed_findings(agency, legal, artists, size)
        note(f"seeded {size:,} findings with COPY, indexes and VACUUM ANALYZE in {elapsed():.0f} s")
    platform = PlatformIndex.for_agency(agency).lookup("www.instagram.com")
    assert platform is not None
    return agency, legal, artists[3].pk, platform.pk


def _seed_findings(agency: Agency, legal: Any, artists: list[Artist], size: int) -> None:
    platforms = PlatformIndex.for_agency(agency)
    platform_of: dict[str, int | None] = {}
    columns = [f.column for f in Finding._meta.concrete_fields]
    through = Finding.artists.through
    link_columns = ["finding_id", "artist_id"]
    start = datetime.now(UTC) - timedelta(seconds=30 * size)
    dropped = [*_secondary_indexes("cases_finding"), *_secondary_indexes(through._meta.db_table)]
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM cases_finding")
        first_id = cursor.fetchone()[0] + 1
        for name, _ in dropped:
            cursor.execute(f'DROP INDEX "{name}"')
        # No per-row foreign-key triggers during the load (the ids are known to exist).
        cursor.execute("SET session_replication_role = replica")
    try:
        for batch_start in range(0, size, BATCH):
            rows, links = [], []
            for n in range(batch_start, min(size, batch_start + BATCH)):
                url = URLS[n % len(URLS)].format(n=n, u=n % 997)
                host = host_of(url)
                if host not in platform_of:
                    platform = platforms.lookup(host)
                    platform_of[host] = platform.pk if platform else None
                status = STATUSES[n % len(STATUSES)]
                created = (start + timedelta(seconds=30 * n)).isoformat()
                pk = first_id + n
                values = {
                    "id": pk, "agency_id": agency.pk, "url": url, "canonical_url": url,
                    "canonical_hash": canonical_hash(url), "host": host,
                    "platform_id": platform_of[host], "source": SOURCES[n % len(SOURCES)],
                    "status": status, "created_by_id": legal.pk,
                    "dismissed_reason": "not a deepfake" if status == FindingStatus.DISMISSED else "",
                    "assignee_id": legal.pk if n % 10 == 0 else None,
                    "notes": f"reported by fan club {n % 500}" if n % 50 == 0 else "",
                    "created_at": created, "updated_at": created,
                    "latest_notice_status": "",  # no notices: what the triggers would keep
                }  # fmt: skip
                linked = {artists[n % len(artists)].pk}
                if n % 7 == 0:
                    linked.add(artists[(n // 7 + 1 + n) % len(artists)].pk)
                # What the link table's triggers keep (they are off during the load).
                values["artist_ids"] = artist_ids_text(linked)
                rows.append(_finding_row(values, columns))
                links.extend(f"{pk}\t{artist}\n" for artist in linked)
            _copy("cases_finding", columns, rows)
            _copy(through._meta.db_table, link_columns, sorted(set(links)))
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = DEFAULT")
    with connection.cursor() as cursor:
        cursor.execute("SET maintenance_work_mem = '512MB'")
        for _, definition in dropped:
            cursor.execute(definition)
        for table in ("cases_finding", through._meta.db_table):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f'(SELECT MAX(id) FROM "{table}"))'
            )
            cursor.execute(f'VACUUM ANALYZE "{table}"')
    # The load ran with triggers off (replica role): count once, as the migration's backfill.
    finding_counts_rebuild(agency_id=agency.pk)
