"""Insert plain tuples without a model instance per row: COPY on PostgreSQL, one multi-row
INSERT per batch elsewhere (SQLite).

For hot paths (bulk import, its audit events and report rows) where bulk_create's
per-object work dominates. Values must be ready for the database (`Field.get_db_prep_save`);
nothing else is checked or defaulted.

On PostgreSQL the rows go through `COPY ... FROM STDIN` in text format, in the current
transaction (COPY is a statement like any other: it commits or rolls back with it). Every
value is written in PostgreSQL's own text representation with the format's escapes
(backslash, tab, newline, carriage return), NULL as `\\N`, so a value arrives exactly as
the ORM would store it; a NUL character, which PostgreSQL cannot store in text, raises
ValueError as the ORM's INSERT does. A value of a type this module cannot write (none of
the app's columns has one) sends the whole call through the INSERT path instead."""

from __future__ import annotations

import datetime
import decimal
import io
import re
import uuid
from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Any

from django.db import connection, models

# SQLite allows 32,766 bound variables per statement; PostgreSQL 65,535.
MAX_PARAMS = 30_000
# Rows per COPY buffer: bounds the memory of one call (a few MB of text per batch).
COPY_BATCH = 20_000

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
# str.translate with a mapping looks up every character (about 2 µs for a URL); a search for
# the four characters first is C-speed, and most values (URLs, hashes, JSON) have none.
_SPECIAL = re.compile(r"[\\\t\n\r]")


class _NotCopyable(TypeError):
    """A value COPY text format is not written for here: use INSERT."""


def _text(value: str) -> str:
    return value.translate(_ESCAPES) if _SPECIAL.search(value) else value


def _text_column(values: Sequence[str]) -> list[str]:
    """A column of strings as COPY text: escaped one by one only when one of them needs it
    (looked for once in all of them; the import's columns of URLs and hashes never do)."""
    if _SPECIAL.search("".join(values)):
        return list(map(str.translate, values, repeat(_ESCAPES)))
    return list(values)


def _json(value: Any) -> str:
    # psycopg2.extras.Json (Django's Jsonb, what JSONField.get_db_prep_save gives on
    # PostgreSQL): its dumps() is the JSON text the INSERT would have sent.
    text: str = value.dumps(value.adapted)
    return text.translate(_ESCAPES)


def _bytes(value: bytes | memoryview) -> str:
    return "\\\\x" + bytes(value).hex()


def _bool(value: bool) -> str:
    return "t" if value else "f"


def _iso(value: datetime.date | datetime.time) -> str:
    return value.isoformat()


_WRITERS: dict[type, Callable[[Any], str]] = {
    str: _text,
    int: str,
    bool: _bool,
    float: repr,
    decimal.Decimal: str,
    datetime.datetime: _iso,
    datetime.date: _iso,
    datetime.time: _iso,
    uuid.UUID: str,
    bytes: _bytes,
    memoryview: _bytes,
}


# Subclasses (TextChoices and IntegerChoices members, for one) are written as their base
# type's value, whatever their own __str__ says, as the driver adapts them.
_BASES: tuple[tuple[type, Callable[[Any], str]], ...] = (
    (bool, _bool),
    (int, int.__repr__),
    (float, float.__repr__),
    (str, _text),
)


def _writer(kind: type) -> Callable[[Any], str]:
    writer = _WRITERS.get(kind)
    if writer is not None:
        return writer
    for base, base_writer in _BASES:
        if issubclass(kind, base):
            _WRITERS[kind] = base_writer
            return base_writer
    try:
        from psycopg2.extras import Json  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - the PostgreSQL driver is a dependency
        Json = None
    if Json is not None and issubclass(kind, Json):
        _WRITERS[kind] = _json
        return _json
    raise _NotCopyable(kind.__name__)


def _column(values: Sequence[object]) -> list[str]:
    """One column's values as COPY text: a column of one type in one pass (C-level map;
    a constant column, as the import's template values are, written once)."""
    kinds = set(map(type, values))
    if len(kinds) == 1:
        kind = kinds.pop()
        if kind is type(None):
            return ["\\N"] * len(values)
        writer = _writer(kind)
        if values.count(values[0]) == len(values):
            return [writer(values[0])] * len(values)
        if writer is _text:
            return _text_column(values)  # type: ignore[arg-type]
        return list(map(writer, values))
    writers = {kind: _writer(kind) for kind in kinds if kind is not type(None)}
    return ["\\N" if value is None else writers[type(value)](value) for value in values]


def copy_text(rows: Sequence[Sequence[object]]) -> str:
    """Rows in COPY text format: tab-separated, one line per row, NULL as \\N."""
    if not rows:
        return ""
    columns = [_column(values) for values in zip(*rows, strict=True)]
    text = "\n".join(map("\t".join, zip(*columns, strict=True))) + "\n"
    if "\x00" in text:
        raise ValueError("A string literal cannot contain NUL (0x00) characters.")
    return text


def _copy(table: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    buffers = [
        copy_text(rows[start : start + COPY_BATCH]) for start in range(0, len(rows), COPY_BATCH)
    ]
    _copy_buffers(table, columns, buffers)


def _copy_buffers(table: str, columns: Sequence[str], buffers: Sequence[str]) -> None:
    quote = connection.ops.quote_name
    statement = f"COPY {quote(table)} ({', '.join(quote(column) for column in columns)}) FROM STDIN"
    with connection.cursor() as cursor, connection.wrap_database_errors:
        for text in buffers:
            cursor.cursor.copy_expert(statement, io.StringIO(text))


def insert_copy_text(model: type[models.Model], columns: Sequence[str], text: str) -> None:
    """Insert rows already written by copy_text (in `columns` order), on PostgreSQL only: a
    bulk writer builds the text off its critical path (the import's read-ahead thread) and
    its transaction only sends it."""
    if connection.vendor != "postgresql":
        raise RuntimeError("insert_copy_text needs PostgreSQL; use insert_tuples")
    if text:
        _copy_buffers(model._meta.db_table, columns, [text])


def _insert(table: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    quote = connection.ops.quote_name
    head = f"INSERT INTO {quote(table)} ({', '.join(quote(column) for column in columns)}) VALUES "
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


def insert_tuples(
    model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[object]]
) -> None:
    """Insert rows (tuples in `columns` order) into the model's table, in the current
    transaction: COPY on PostgreSQL, multi-row INSERTs elsewhere."""
    if not rows:
        return
    table = model._meta.db_table
    if connection.vendor == "postgresql":
        try:
            _copy(table, columns, rows)
            return
        except _NotCopyable:
            pass  # raised while the text is built, before anything was sent
    _insert(table, columns, rows)


def take_ids(model: type[models.Model], count: int) -> list[int] | None:
    """`count` new primary keys from the table's sequence in one statement, ascending, on
    PostgreSQL (rows then COPY'd with them: no reading back of the new rows); None
    elsewhere (SQLite assigns them on insert)."""
    if connection.vendor != "postgresql" or count <= 0:
        return None
    table, pk = model._meta.db_table, model._meta.pk.column
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [connection.ops.quote_name(table), pk, count],
        )
        return sorted(row[0] for row in cursor.fetchall())


def ids_by_key(
    model: type[models.Model], key_column: str, keys: Sequence[object], **equal: object
) -> dict[Any, int]:
    """{key: primary key} of the rows whose `key_column` is one of `keys` and whose columns
    named in `equal` have those values: one raw statement per MAX_PARAMS keys (no ORM
    lookup compiling thousands of parameters)."""
    if not keys:
        return {}
    quote = connection.ops.quote_name
    table, pk = quote(model._meta.db_table), quote(model._meta.pk.column)
    where = "".join(f" AND {quote(column)} = %s" for column in equal)
    found: dict[Any, int] = {}
    with connection.cursor() as cursor, connection.wrap_database_errors:
        for start in range(0, len(keys), MAX_PARAMS):
            batch = list(keys[start : start + MAX_PARAMS])
            marks = ", ".join(["%s"] * len(batch))
            cursor.cursor.execute(
                f"SELECT {quote(key_column)}, {pk} FROM {table} "
                f"WHERE {quote(key_column)} IN ({marks}){where}",
                [*batch, *equal.values()],
            )
            found.update(cursor.cursor.fetchall())
    return found
