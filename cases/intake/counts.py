"""Checking the dashboard's finding counters (cases.intake.models.FindingCount) against a
fresh count, and rewriting them from one.

The counters are kept by database triggers in the transaction of every change
(cases/intake/counter_sql.py), so they never need this in normal operation; this finds a
counter row damaged by hand or by a write with triggers disabled (a bulk load under
`session_replication_role = replica`, as bench/scale_seed.py does, which then calls
`finding_counts_rebuild`). Run by `manage.py finding_counts_check [--fix]`."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection, transaction

from cases.intake.counter_sql import COUNTS, FINDINGS, LINKS, recount_sql
from cases.intake.models import FindingCount


@dataclass(frozen=True)
class CountMismatch:
    agency_id: int
    dimension: str
    key: str
    stored: int
    actual: int


def _actual(agency_id: int | None) -> dict[tuple[int, str, str], int]:
    params = [agency_id] * 3 if agency_id is not None else []
    with connection.cursor() as cursor:
        cursor.execute(recount_sql(agency_param=agency_id is not None), params)
        return {(a, d, k): n for a, d, k, n in cursor.fetchall()}


def _stored(agency_id: int | None) -> dict[tuple[int, str, str], int]:
    rows = FindingCount.objects.exclude(count=0)
    if agency_id is not None:
        rows = rows.filter(agency_id=agency_id)
    return {
        (a, d, k): n for a, d, k, n in rows.values_list("agency_id", "dimension", "key", "count")
    }


def _lock_writers() -> None:
    """Keep writers of findings and links out until the transaction ends (PostgreSQL;
    SQLite has one writer at a time already), so the recount and the counters see the
    same data."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {FINDINGS}, {LINKS} IN SHARE MODE")


def finding_counts_compare(*, agency_id: int | None = None) -> list[CountMismatch]:
    """Every counter that differs from a fresh GROUP BY (one agency, or all)."""
    with transaction.atomic():
        _lock_writers()
        actual, stored = _actual(agency_id), _stored(agency_id)
    return [
        CountMismatch(*key, stored.get(key, 0), actual.get(key, 0))
        for key in sorted(actual.keys() | stored.keys())
        if stored.get(key, 0) != actual.get(key, 0)
    ]


def finding_counts_rebuild(*, agency_id: int | None = None) -> None:
    """Rewrite the counters (one agency's, or all) from a fresh GROUP BY."""
    params = [agency_id] * 3 if agency_id is not None else []
    with transaction.atomic(), connection.cursor() as cursor:
        _lock_writers()
        where = " WHERE agency_id = %s" if agency_id is not None else ""
        cursor.execute(f"DELETE FROM {COUNTS}{where}", params[:1])
        cursor.execute(
            f'INSERT INTO {COUNTS} (agency_id, dimension, "key", "count") '
            f"{recount_sql(agency_param=agency_id is not None)}",
            params,
        )
