"""Each finding's artists' ids kept on the finding itself (Finding.artist_ids) by database
triggers on the finding-artist link table, so that the list pages (the triage queue, the
findings API) name a page's artists without a query on the link table: on a fresh database
connection, the catalogue entries of one more table and its indexes cost more than its rows.

The value is the ids as decimal text joined by "," ("" without an artist); PostgreSQL keeps
them in ascending order, SQLite in the order its index gives (ascending in practice).
Readers take it as a set (cases.intake.list_names orders artists by name). The triggers run
on every insert, update and delete of a link row, whatever wrote it: artists.add/set/remove,
bulk_create, the COPY import (which writes the value with its findings: the trigger then
finds nothing to change), cascades from a deleted artist. The mechanics (PostgreSQL
statement-level, installed by migration 0028; SQLite row-level, only outside `migrate`) are
cases.kernel.kept_sql's. Finding.save() never writes the column on an update."""

from __future__ import annotations

from collections.abc import Iterable

from cases.kernel.kept_sql import KeptColumns

FINDINGS = "cases_finding"
LINKS = "cases_finding_artists"


def _ids(vendor: str) -> str:
    """The ids of the artists linked to the finding being updated, as stored."""
    if vendor == "postgresql":
        joined = "string_agg(l.artist_id::text, ',' ORDER BY l.artist_id)"
    else:
        joined = "group_concat(l.artist_id, ',')"
    return f"COALESCE((SELECT {joined} FROM {LINKS} l WHERE l.finding_id = {FINDINGS}.id), '')"


def set_ids_sql(vendor: str, where: str) -> str:
    """UPDATE the findings `where` selects to their artists' ids, only where they differ
    (no write, no finding trigger, for an unchanged finding)."""
    ids = _ids(vendor)
    return f"UPDATE {FINDINGS} SET artist_ids = {ids} WHERE ({where}) AND artist_ids <> {ids}"


def rebuild_sql(vendor: str) -> str:
    """Every finding set to its artists' ids from the link table."""
    return set_ids_sql(vendor, "true")


_PG_TRIGGERS = [
    ("artistids_link_ins", LINKS, "INSERT", "NEW TABLE AS new_rows"),
    ("artistids_link_del", LINKS, "DELETE", "OLD TABLE AS old_rows"),
    ("artistids_link_upd", LINKS, "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows"),
]

ARTIST_IDS = KeptColumns(
    label="artist ids of findings",
    table=FINDINGS,
    marker="artist_ids",
    source=LINKS,
    pg_functions={
        "artistids_link_ins": set_ids_sql("postgresql", "id IN (SELECT finding_id FROM new_rows)"),
        "artistids_link_del": set_ids_sql("postgresql", "id IN (SELECT finding_id FROM old_rows)"),
        "artistids_link_upd": set_ids_sql(
            "postgresql",
            "id IN (SELECT finding_id FROM old_rows UNION SELECT finding_id FROM new_rows)",
        ),
    },
    pg_triggers=_PG_TRIGGERS,
    sqlite_triggers={
        "artistids_link_ins": (
            f"AFTER INSERT ON {LINKS} BEGIN {set_ids_sql('sqlite', 'id = NEW.finding_id')}; END"
        ),
        "artistids_link_del": (
            f"AFTER DELETE ON {LINKS} BEGIN {set_ids_sql('sqlite', 'id = OLD.finding_id')}; END"
        ),
        "artistids_link_upd": (
            f"AFTER UPDATE ON {LINKS} BEGIN "
            f"{set_ids_sql('sqlite', 'id = OLD.finding_id OR id = NEW.finding_id')}; END"
        ),
    },
    rebuild=rebuild_sql,
)


def artist_ids_text(ids: Iterable[int]) -> str:
    """The stored text of a set of artist ids (ascending, as PostgreSQL's triggers keep it):
    what a writer that knows a new finding's artists puts in its row (the COPY import)."""
    return ",".join(str(pk) for pk in sorted(set(ids)))


def artist_ids_parse(text: str) -> list[int]:
    return [int(pk) for pk in text.split(",")] if text else []
