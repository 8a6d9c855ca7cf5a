"""The dashboard's per-agency finding counters (cases_findingcount), kept by database triggers.

Every write to the findings table (status, platform, agency) and to the finding-artist link
table moves the counters in the same statement's transaction, whatever wrote it: the ORM,
bulk_create, bulk_update, QuerySet.update, the COPY import (cases/kernel/bulk.py), raw SQL,
deletes and their cascades. Nothing in Python has to remember to call anything.

Dimensions and keys: ("status", the status value), ("platform", the platform id as text, ""
for none), ("artist", the artist id as text: one per link row, counted under the artist's
agency, as the dashboard's Count("findings") over the agency's artists did). A counter may
stay at 0 (readers skip it).

PostgreSQL: statement-level AFTER triggers with transition tables, one INSERT ... ON CONFLICT
DO UPDATE per statement with the statement's deltas summed per key (a COPY of 20,000 rows
touches each counter row once, not 20,000 times), keys in a fixed order so two writers lock
counter rows in the same order. SQLite (no transition tables): row-level triggers with the
same upsert. A deleted agency's counters go with it (a trigger on the agency table, since
Django's cascade may set platforms to NULL on findings after it deleted the counters).

SQLite rebuilds a table to alter it (and drops its triggers with it), so `install` is
idempotent and also runs after every `migrate` (cases/wiring.py). `recount_sql` gives the
GROUP BYs the counters must equal (the migration's backfill and `finding_counts_check`)."""

from __future__ import annotations

from typing import Any

COUNTS = "cases_findingcount"
FINDINGS = "cases_finding"
LINKS = "cases_finding_artists"
ARTISTS = "cases_artist"
AGENCIES = "cases_agency"

_UPSERT = (
    f'INSERT INTO {COUNTS} (agency_id, dimension, "key", "count") {{rows}} '
    f'ON CONFLICT (agency_id, dimension, "key") DO UPDATE SET "count" = {COUNTS}."count" + '
    'excluded."count"'
)


def _finding_deltas(table: str, sign: int) -> str:
    return (
        f"SELECT agency_id, 'status' AS dimension, status AS key, {sign} AS n FROM {table} "
        f"UNION ALL SELECT agency_id, 'platform', COALESCE(CAST(platform_id AS TEXT), ''), "
        f"{sign} FROM {table}"
    )


def _link_deltas(table: str, sign: int) -> str:
    return (
        f"SELECT a.agency_id, 'artist' AS dimension, CAST(t.artist_id AS TEXT) AS key, "
        f"{sign} AS n FROM {table} t JOIN {ARTISTS} a ON a.id = t.artist_id"
    )


def _pg_apply(deltas: str) -> str:
    rows = (
        f"SELECT agency_id, dimension, key, SUM(n) FROM ({deltas}) d "
        "GROUP BY agency_id, dimension, key HAVING SUM(n) <> 0 "
        "ORDER BY agency_id, dimension, key"
    )
    return _UPSERT.format(rows=rows)


def _pg_function(name: str, body: str) -> str:
    return (
        f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        f"BEGIN\n{body};\nRETURN NULL;\nEND;\n$$"
    )


# (trigger name, table, event, transition tables, function)
_PG_TRIGGERS = [
    ("findingcount_finding_ins", FINDINGS, "INSERT", "NEW TABLE AS new_rows", "findingcount_finding_ins"),
    ("findingcount_finding_upd", FINDINGS, "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows", "findingcount_finding_upd"),
    ("findingcount_finding_del", FINDINGS, "DELETE", "OLD TABLE AS old_rows", "findingcount_finding_del"),
    ("findingcount_link_ins", LINKS, "INSERT", "NEW TABLE AS new_rows", "findingcount_link_ins"),
    ("findingcount_link_upd", LINKS, "UPDATE", "OLD TABLE AS old_rows NEW TABLE AS new_rows", "findingcount_link_upd"),
    ("findingcount_link_del", LINKS, "DELETE", "OLD TABLE AS old_rows", "findingcount_link_del"),
]  # fmt: skip

_PG_FUNCTIONS = {
    "findingcount_finding_ins": _pg_apply(_finding_deltas("new_rows", 1)),
    "findingcount_finding_upd": _pg_apply(
        f"{_finding_deltas('old_rows', -1)} UNION ALL {_finding_deltas('new_rows', 1)}"
    ),
    "findingcount_finding_del": _pg_apply(_finding_deltas("old_rows", -1)),
    "findingcount_link_ins": _pg_apply(_link_deltas("new_rows", 1)),
    "findingcount_link_upd": _pg_apply(
        f"{_link_deltas('old_rows', -1)} UNION ALL {_link_deltas('new_rows', 1)}"
    ),
    "findingcount_link_del": _pg_apply(_link_deltas("old_rows", -1)),
    "findingcount_agency_del": f"DELETE FROM {COUNTS} WHERE agency_id = OLD.id",
}


def _pg_install() -> list[str]:
    statements = [_pg_function(name, body) for name, body in _PG_FUNCTIONS.items()]
    for trigger, table, event, referencing, function in _PG_TRIGGERS:
        statements += [
            f"DROP TRIGGER IF EXISTS {trigger} ON {table}",
            f"CREATE TRIGGER {trigger} AFTER {event} ON {table} REFERENCING {referencing} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
        ]
    return [
        *statements,
        f"DROP TRIGGER IF EXISTS findingcount_agency_del ON {AGENCIES}",
        f"CREATE TRIGGER findingcount_agency_del AFTER DELETE ON {AGENCIES} "
        "FOR EACH ROW EXECUTE FUNCTION findingcount_agency_del()",
    ]


def _pg_uninstall() -> list[str]:
    statements = [f"DROP TRIGGER IF EXISTS {t} ON {table}" for t, table, *_ in _PG_TRIGGERS]
    statements.append(f"DROP TRIGGER IF EXISTS findingcount_agency_del ON {AGENCIES}")
    return statements + [f"DROP FUNCTION IF EXISTS {name}()" for name in _PG_FUNCTIONS]


def _sqlite_upsert(agency: str, dimension: str, key: str, sign: int) -> str:
    # SELECT ... WHERE true: SQLite's parser needs the WHERE before ON CONFLICT.
    return _UPSERT.format(rows=f"SELECT {agency}, '{dimension}', {key}, {sign} WHERE true") + ";"


def _sqlite_finding(row: str, sign: int) -> str:
    platform = f"COALESCE(CAST({row}.platform_id AS TEXT), '')"
    return _sqlite_upsert(f"{row}.agency_id", "status", f"{row}.status", sign) + _sqlite_upsert(
        f"{row}.agency_id", "platform", platform, sign
    )


def _sqlite_link(row: str, sign: int) -> str:
    return (
        _UPSERT.format(
            rows=f"SELECT a.agency_id, 'artist', CAST({row}.artist_id AS TEXT), {sign} "
            f"FROM {ARTISTS} a WHERE a.id = {row}.artist_id"
        )
        + ";"
    )


_SQLITE_TRIGGERS = {
    "findingcount_finding_ins": f"AFTER INSERT ON {FINDINGS} BEGIN {_sqlite_finding('NEW', 1)} END",
    "findingcount_finding_upd": (
        f"AFTER UPDATE OF status, platform_id, agency_id ON {FINDINGS} "
        "WHEN OLD.status IS NOT NEW.status OR OLD.platform_id IS NOT NEW.platform_id "
        "OR OLD.agency_id IS NOT NEW.agency_id "
        f"BEGIN {_sqlite_finding('OLD', -1)} {_sqlite_finding('NEW', 1)} END"
    ),
    "findingcount_finding_del": f"AFTER DELETE ON {FINDINGS} BEGIN {_sqlite_finding('OLD', -1)} END",
    "findingcount_link_ins": f"AFTER INSERT ON {LINKS} BEGIN {_sqlite_link('NEW', 1)} END",
    "findingcount_link_upd": (
        f"AFTER UPDATE ON {LINKS} BEGIN {_sqlite_link('OLD', -1)} {_sqlite_link('NEW', 1)} END"
    ),
    "findingcount_link_del": f"AFTER DELETE ON {LINKS} BEGIN {_sqlite_link('OLD', -1)} END",
    "findingcount_agency_del": (
        f"AFTER DELETE ON {AGENCIES} BEGIN DELETE FROM {COUNTS} WHERE agency_id = OLD.id; END"
    ),
}  # fmt: skip


def install_statements(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return _pg_install()
    if vendor == "sqlite":
        return [f"CREATE TRIGGER IF NOT EXISTS {n} {body}" for n, body in _SQLITE_TRIGGERS.items()]
    raise NotImplementedError(f"finding counters: no triggers for {vendor}")


def uninstall_statements(vendor: str) -> list[str]:
    if vendor == "postgresql":
        return _pg_uninstall()
    return [f"DROP TRIGGER IF EXISTS {name}" for name in _SQLITE_TRIGGERS]


def recount_sql(agency_param: bool) -> str:
    """(agency_id, dimension, key, count) of every non-zero counter from the tables
    themselves; with `agency_param`, of one agency (one %s parameter, given three times)."""
    where = " WHERE agency_id = %s" if agency_param else ""
    artist_where = " WHERE a.agency_id = %s" if agency_param else ""
    return (
        f"SELECT agency_id, 'status', status, COUNT(*) FROM {FINDINGS}{where} "
        "GROUP BY agency_id, status "
        f"UNION ALL SELECT agency_id, 'platform', COALESCE(CAST(platform_id AS TEXT), ''), "
        f"COUNT(*) FROM {FINDINGS}{where} GROUP BY agency_id, platform_id "
        f"UNION ALL SELECT a.agency_id, 'artist', CAST(t.artist_id AS TEXT), COUNT(*) "
        f"FROM {LINKS} t JOIN {ARTISTS} a ON a.id = t.artist_id{artist_where} "
        "GROUP BY a.agency_id, t.artist_id"
    )


def install(schema_editor_or_cursor: Any, vendor: str) -> None:
    for statement in install_statements(vendor):
        schema_editor_or_cursor.execute(statement)


def finding_counter_triggers_ensure(*, using: str = "default") -> None:
    """After `migrate` on SQLite: put back triggers that a table rebuild (SQLite's way of
    altering a table) dropped with the old table. Nothing to do on PostgreSQL, which alters
    tables in place, nor before the counters table exists (a migration back past 0020)."""
    from django.db import connections

    connection = connections[using]
    if connection.vendor != "sqlite" or COUNTS not in connection.introspection.table_names():
        return
    with connection.cursor() as cursor:
        install(cursor, "sqlite")
