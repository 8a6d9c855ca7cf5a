"""take_ids (new ids from the sequence, PostgreSQL) and ids_by_key (raw lookup by key)."""

from __future__ import annotations

import pytest
from django.db import connection

from cases.intake.models import Finding
from cases.kernel.bulk import ids_by_key, take_ids

pytestmark = pytest.mark.django_db


def _finding(agency, key: str) -> Finding:  # type: ignore[no-untyped-def]
    url = f"https://example.com/{key}"
    return Finding.objects.create(
        agency=agency, url=url, canonical_url=url, canonical_hash=key, host="example.com"
    )


def test_ids_by_key_finds_only_the_keys_of_that_agency(agency, other_agency) -> None:  # type: ignore[no-untyped-def]
    mine, theirs = _finding(agency, "a" * 64), _finding(other_agency, "b" * 64)
    _finding(agency, "c" * 64)  # not asked for
    found = ids_by_key(
        Finding, "canonical_hash", ["a" * 64, "b" * 64, "z" * 64], agency_id=agency.pk
    )
    assert found == {"a" * 64: mine.pk}
    assert ids_by_key(Finding, "canonical_hash", ["b" * 64], agency_id=other_agency.pk) == {
        "b" * 64: theirs.pk
    }
    assert ids_by_key(Finding, "canonical_hash", [], agency_id=agency.pk) == {}


def test_take_ids_gives_fresh_ascending_ids_on_postgresql(agency) -> None:  # type: ignore[no-untyped-def]
    taken = take_ids(Finding, 5)
    if connection.vendor != "postgresql":
        assert taken is None  # SQLite assigns ids on insert
        return
    assert taken is not None and len(set(taken)) == 5 and taken == sorted(taken)
    later = _finding(agency, "d" * 64)
    assert later.pk > max(taken)  # the sequence moved on: no id is handed out twice
