"""Insert plain tuples: one multi-row INSERT per batch, no model instance per row.

For hot paths (bulk import) where bulk_create's per-object work dominates. Values must be
ready for the database (`Field.get_db_prep_save`); nothing else is checked or defaulted."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection, models

# SQLite allows 32,766 bound variables per statement; PostgreSQL 65,535.
MAX_PARAMS = 30_000


def insert_tuples(
    model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[object]]
) -> None:
    """INSERT rows (tuples in `columns` order) into the model's table, in the current
    transaction."""
    if not rows:
        return
    quote = connection.ops.quote_name
    head = (
        f"INSERT INTO {quote(model._meta.db_table)} "
        f"({', '.join(quote(column) for column in columns)}) VALUES "
    )
    one = "(" + ", ".join(["%s"] * len(columns)) + ")"
    per_batch = max(1, MAX_PARAMS // len(columns))
    # The backend's own cursor, under Django's error mapping (IntegrityError and so on) but
    # past the DEBUG query log, which would format all 30,000 bound values of every
    # statement into its log line: seconds per chunk, on development machines and benches.
    with connection.cursor() as cursor, connection.wrap_database_errors:
        for start in range(0, len(rows), per_batch):
            batch = rows[start : start + per_batch]
            params: list[Any] = [value for row in batch for value in row]
            cursor.cursor.execute(head + ", ".join([one] * len(batch)), params)
