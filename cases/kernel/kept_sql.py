"""Columns of one table kept by database triggers on other tables (a finding's newest
notice, its artists' ids): the triggers run in the transaction of every write that can
change a kept value, whatever wrote it (the ORM, QuerySet.update, COPY, raw SQL, cascades),
so that a list page reads one table instead of joining the others.

PostgreSQL: statement-level AFTER triggers with transition tables (one UPDATE per statement
for the rows it touched), installed by the column's migration. SQLite: row-level triggers,
which exist only outside `migrate`: SQLite rebuilds a table to alter it (create, copy, drop,
rename), and the rename fails while triggers on other tables name the rebuilt one ("no such
table: main.cases_finding"), so they are dropped before `migrate` and installed, with every
row recomputed, after it (cases/wiring.py)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class KeptColumns:
    """One set of triggers. `pg_triggers`: (trigger and function name, table, event, its
    transition tables); `pg_functions`: the body of each function; `sqlite_triggers`: what
    follows `CREATE TRIGGER name`; `rebuild(vendor)`: an UPDATE recomputing every row from
    the tables themselves. `marker` is a kept column and `source` a table the triggers are
    on: before both exist (a migration back past theirs) there is nothing to install."""

    label: str
    table: str
    marker: str
    source: str
    pg_functions: Mapping[str, str]
    pg_triggers: Sequence[tuple[str, str, str, str]]
    sqlite_triggers: Mapping[str, str]
    rebuild: Callable[[str], str]

    def install_statements(self, vendor: str) -> list[str]:
        if vendor == "postgresql":
            statements = [
                f"CREATE OR REPLACE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
                f"BEGIN\n{body};\nRETURN NULL;\nEND;\n$$"
                for name, body in self.pg_functions.items()
            ]
            for name, table, event, referencing in self.pg_triggers:
                statements += [
                    f"DROP TRIGGER IF EXISTS {name} ON {table}",
                    f"CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {referencing} "
                    f"FOR EACH STATEMENT EXECUTE FUNCTION {name}()",
                ]
            return statements
        if vendor == "sqlite":
            return [
                f"CREATE TRIGGER IF NOT EXISTS {name} {body}"
                for name, body in self.sqlite_triggers.items()
            ]
        raise NotImplementedError(f"{self.label}: no triggers for {vendor}")

    def uninstall_statements(self, vendor: str) -> list[str]:
        if vendor == "postgresql":
            return [
                f"DROP TRIGGER IF EXISTS {n} ON {table}" for n, table, *_ in self.pg_triggers
            ] + [f"DROP FUNCTION IF EXISTS {name}()" for name in self.pg_functions]
        return [f"DROP TRIGGER IF EXISTS {name}" for name in self.sqlite_triggers]

    def install(self, schema_editor_or_cursor: Any, vendor: str) -> None:
        for statement in self.install_statements(vendor):
            schema_editor_or_cursor.execute(statement)

    def drop_before_migrate(self, *, using: str = "default") -> None:
        """Before `migrate` on SQLite: drop the triggers (module docstring). Nothing to do
        on PostgreSQL, which alters tables in place."""
        from django.db import connections

        connection = connections[using]
        if connection.vendor != "sqlite":
            return
        with connection.cursor() as cursor:
            for statement in self.uninstall_statements("sqlite"):
                cursor.execute(statement)

    def ensure_after_migrate(self, *, using: str = "default") -> None:
        """After `migrate` on SQLite: install the triggers (dropped before it, or never
        installed: the column's migration leaves SQLite to this) and recompute every row,
        since a migration may have written the other tables while there were none (SQLite
        databases are the small embedded ones). Nothing to do on PostgreSQL, whose
        triggers the migration installed."""
        from django.db import connections

        connection = connections[using]
        if (
            connection.vendor != "sqlite"
            or self.source not in connection.introspection.table_names()
        ):
            return
        with connection.cursor() as cursor:
            columns = {
                c.name for c in connection.introspection.get_table_description(cursor, self.table)
            }
            if self.marker not in columns:
                return
            self.install(cursor, "sqlite")
            cursor.execute(self.rebuild("sqlite"))
