"""Migration 0027 (issue 12): less index work per imported finding on PostgreSQL, each
index still answering its queries and no query's result changed."""

from __future__ import annotations

import pytest
from django.db import connection
from django.urls import reverse

from cases.intake.filters import FindingFilter
from cases.intake.models import Finding
from tests.factories import make_finding


def _plan(sql: str, params: object) -> str:
    with connection.cursor() as cursor:
        # A few rows make a sequential scan cheaper; forbid it to see which index the query
        # can use at all (at a million rows the planner picks it by itself).
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}", params)
        return "\n".join(row[0] for row in cursor.fetchall())


def test_canonical_hashes_compare_bytewise_on_postgresql(pg):
    """The unique index on (agency, canonical_hash) in the "C" collation, kept out of the
    model state (SQLite has none of that name): an AlterField of the column would reset it
    to the database default silently; this test says so."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT collation_name FROM information_schema.columns "
            "WHERE table_name = 'cases_finding' AND column_name = 'canonical_hash'"
        )
        assert cursor.fetchone() == ("C",)


def test_the_assignee_index_serves_queries_by_assignee(pg, agency, bob):
    make_finding(agency, "https://vimeo.com/1", actor=bob)
    for queryset in (
        Finding.objects.filter(assignee=bob),  # the assignee filter, "my work"
        Finding.objects.filter(assignee_id__in=[bob.pk]),  # clearing a deleted user's
    ):
        plan = _plan(*queryset.values("pk").query.sql_with_params())
        assert "finding_assignee" in plan, plan


def test_the_notes_index_covers_non_empty_notes_only(pg):
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'finding_notes_trgm'")
        (definition,) = cursor.fetchone()
    assert "WHERE (notes <> ''::text)" in definition, definition


@pytest.mark.parametrize("query", ["needle", "NEEDLE", "e", "vimeo.com/2"])
def test_the_search_finds_what_it_found_before(client, agency, bob, query):
    """The search's `notes <> ''` (for the partial index) leaves out no finding: the same
    findings as a plain substring test over the URL and the notes."""
    findings = [
        make_finding(agency, "https://vimeo.com/needle-1", actor=bob),
        make_finding(agency, "https://vimeo.com/2", actor=bob, notes="A NeEdLe in notes"),
        make_finding(agency, "https://vimeo.com/3", actor=bob, notes=""),
        make_finding(agency, "https://vimeo.com/4", actor=bob, notes="other"),
    ]
    found = FindingFilter({"q": query}, queryset=Finding.objects.all()).qs
    expected = {
        f.pk
        for f in findings
        if query.upper() in f.canonical_url.upper() or query.upper() in f.notes.upper()
    }
    assert {f.pk for f in found} == expected
    client.force_login(bob)
    assert client.get(reverse("finding_list"), {"q": query}).status_code == 200
