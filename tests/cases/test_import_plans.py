"""Chunks planned ahead (services.import_chunks): on PostgreSQL a chunk's findings, report
and audit events are computed in the read-ahead thread and sent as planned when the database
still says what the plan assumed; otherwise the chunk is recorded the plain way. Either way
the import records the same thing. Transactional tests: the read-ahead thread reads through
its own connection, which sees only what is committed."""

from __future__ import annotations

import threading
from concurrent.futures import wait
from typing import Any

import pytest
from django.db import connection, connections

from cases.intake.models import Finding, ImportJob
from cases.intake.services import import_chunks, imports
from cases.intake.services.imports import import_job_create
from cases.kernel.audit.services import audit_chain_verify
from cases.kernel.models import AuditEvent
from tests.factories import ArtistFactory, make_finding

pytestmark = pytest.mark.django_db(transaction=True)
on_postgresql = connection.vendor == "postgresql"

# Chunks of 4 rows (header: line 1): rows 2-5, 6-9, 10-13, 14-17.
CSV = """url,artist
https://a.example/1,Yuna
https://a.example/1?utm_source=x,Yuna
https://a.example/2,Yuna|Yuna
javascript:alert(1),
https://a.example/3,Nobody
https://a.example/2,
"https://a.example/4,broken
https://already.example/a,
https://a.example/1,
https://a.example/5,Yuna|Nobody
https://a.example/3,
https://youtube.com/watch?v=9,
https://a.example/5,
https://a.example/6,
https://a.example/7,
https://already.example/a,
"""


@pytest.fixture
def slow_chunks(monkeypatch):  # type: ignore[no-untyped-def]
    """Count the chunks recorded the plain way (the planned way does not call it)."""
    calls = {"n": 0}
    real = imports.plan_findings

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(imports, "plan_findings", counting)
    return calls


@pytest.fixture
def planned_first(monkeypatch):  # type: ignore[no-untyped-def]
    """Each chunk's successor is planned before the chunk is recorded (as when the database
    is the slower side), so no plan sees the rows of the chunk before it: deterministic."""
    real = import_chunks.Chunks.take

    def take(self: import_chunks.Chunks, start: int) -> import_chunks.Prepared:
        chunk = real(self, start)
        if self.next is not None:
            wait([self.next])
        return chunk

    monkeypatch.setattr(import_chunks.Chunks, "take", take)


def _recorded(job: ImportJob) -> dict[str, Any]:
    """What an import recorded, with finding ids as their canonical URLs (ids differ
    between two imports of the same rows)."""
    urls = dict(Finding.objects.filter(agency_id=job.agency_id).values_list("pk", "canonical_url"))
    report = [
        (*row_fields, urls.get(finding_id))
        for finding_id, *row_fields in job.report_rows.order_by("row").values_list(
            "finding_id", "row", "outcome", "url", "column", "code", "params", "raw"
        )
    ]
    findings = sorted(
        (f.url, f.canonical_url, f.host, f.platform.name if f.platform else None, f.source)
        for f in Finding.objects.filter(agency_id=job.agency_id, source="import")
    )
    links = sorted(
        (f.canonical_url, a.stage_name)
        for f in Finding.objects.filter(agency_id=job.agency_id).prefetch_related("artists")
        for a in f.artists.all()
    )
    events = []
    for event in AuditEvent.objects.filter(agency_id=job.agency_id, data__import=job.pk):
        data = {key: value for key, value in event.data.items() if key != "import"}
        events.append((event.seq, event.action, urls[int(event.object_id)], data))
    counts = (job.created_count, job.warning_count, job.duplicate_count, job.invalid_count)
    return {
        "report": report,
        "findings": findings,
        "links": links,
        "events": events,
        "counts": counts,
    }


def _import(agency, actor) -> ImportJob:  # type: ignore[no-untyped-def]
    make_finding(agency, "https://already.example/a")
    ArtistFactory(agency=agency, stage_name="Yuna")
    return _run(agency, actor, CSV)


def _run(agency, actor, text: str) -> ImportJob:  # type: ignore[no-untyped-def]
    # Run by the worker (inline here) as its creation commits.
    job = import_job_create(agency=agency, actor=actor, text=text, filename="t.csv")
    return ImportJob.objects.get(pk=job.pk)


def test_a_planned_import_records_what_the_plain_way_records(  # type: ignore[no-untyped-def]
    agency, bob, other_agency, mallory, settings, monkeypatch, slow_chunks, planned_first
) -> None:
    settings.IMPORT_CHUNK_SIZE = 4
    planned = _recorded(_import(agency, bob))
    assert slow_chunks["n"] == (0 if on_postgresql else 4)
    monkeypatch.setattr(import_chunks, "plan_chunk", lambda *args: None)
    plain = _recorded(_import(other_agency, mallory))
    assert planned == plain
    assert audit_chain_verify(agency=agency).ok and audit_chain_verify(agency=other_agency).ok
    outcomes = {row[0]: (row[1], row[7], row[4]) for row in planned["report"]}
    # In the chunk, the chunk before (not committed when this one was planned), and earlier.
    assert outcomes[3] == ("duplicate", None, "same URL as row %(row)s")
    assert outcomes[7] == ("duplicate", "https://a.example/2", "already recorded")
    assert outcomes[10] == ("duplicate", "https://a.example/1", "already recorded")
    assert outcomes[17] == ("duplicate", "https://already.example/a", "already recorded")
    assert planned["counts"] == (5, 2, 7, 2)


@pytest.mark.skipif(not on_postgresql, reason="chunks are planned on PostgreSQL")
def test_a_url_recorded_by_another_writer_after_planning_goes_the_plain_way(  # type: ignore[no-untyped-def]
    agency, bob, settings, monkeypatch, slow_chunks, planned_first
) -> None:
    settings.IMPORT_CHUNK_SIZE = 10
    urls = [f"https://a.example/{n}" for n in range(30)]
    urls[24] = "https://a.example/12"  # line 25, the third chunk: a URL of the second
    real_chunk = imports._process_chunk
    calls = {"n": 0}
    theirs: list[Finding] = []

    def another_writer_first(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:  # the second chunk was planned while the first was recorded

            def record() -> None:
                theirs.append(make_finding(agency, "https://a.example/15"))
                connections.close_all()

            writer = threading.Thread(target=record)
            writer.start()
            writer.join()
        return real_chunk(*args, **kwargs)

    monkeypatch.setattr(imports, "_process_chunk", another_writer_first)
    job = _run(agency, bob, "\n".join(urls))
    # The second chunk, and the third: planned with the ids the second's plan took.
    assert slow_chunks["n"] == 2
    assert (job.created_count, job.duplicate_count) == (28, 2)
    row = job.report_rows.get(row=16)
    assert (row.outcome, row.finding_id, row.code) == (
        "duplicate",
        theirs[0].pk,
        "already recorded",
    )
    twelfth = Finding.objects.get(agency=agency, url="https://a.example/12")
    assert job.report_rows.get(row=25).finding_id == twelfth.pk
    assert Finding.objects.filter(agency=agency).count() == 29
    assert audit_chain_verify(agency=agency).ok


def test_a_plan_that_could_not_know_the_chunk_before_is_not_used(  # type: ignore[no-untyped-def]
    agency, bob, settings, monkeypatch, slow_chunks, planned_first
) -> None:
    # The third chunk repeats a URL of the second, which had no plan: the third was planned
    # before the second committed, without knowing its new findings.
    settings.IMPORT_CHUNK_SIZE = 3
    urls = ["https://a.example/1", "https://a.example/2", "https://a.example/3"]
    urls += ["https://a.example/4", "https://a.example/5", "https://a.example/6"]
    urls += ["https://a.example/5", "https://a.example/7"]
    real_plan = import_chunks.plan_chunk
    plans = {"n": 0}

    def second_unplanned(*args: Any, **kwargs: Any) -> Any:
        plans["n"] += 1
        return None if plans["n"] == 2 else real_plan(*args, **kwargs)

    monkeypatch.setattr(import_chunks, "plan_chunk", second_unplanned)
    job = _run(agency, bob, "\n".join(urls))
    assert slow_chunks["n"] == (2 if on_postgresql else 3)
    fifth = Finding.objects.get(agency=agency, url="https://a.example/5")
    row = job.report_rows.get(row=7)
    assert (row.outcome, row.finding_id, row.code) == ("duplicate", fifth.pk, "already recorded")
    assert audit_chain_verify(agency=agency).ok


@pytest.mark.skipif(not on_postgresql, reason="chunks are planned on PostgreSQL")
def test_a_url_deleted_after_planning_is_recorded_again(  # type: ignore[no-untyped-def]
    agency, bob, settings, monkeypatch, slow_chunks, planned_first
) -> None:
    # The second chunk was planned as "already recorded" for a finding deleted before it
    # is recorded: the plain way records the URL again, as a lookup then would say.
    settings.IMPORT_CHUNK_SIZE = 2
    gone = make_finding(agency, "https://a.example/3")
    real_chunk = imports._process_chunk
    calls = {"n": 0}

    def delete_first(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            writer = threading.Thread(
                target=lambda: (
                    Finding.objects.filter(pk=gone.pk).delete(),
                    connections.close_all(),
                )
            )
            writer.start()
            writer.join()
        return real_chunk(*args, **kwargs)

    monkeypatch.setattr(imports, "_process_chunk", delete_first)
    job = _run(agency, bob, "https://a.example/1\nhttps://a.example/2\nhttps://a.example/3\n")
    assert slow_chunks["n"] == 1
    row = job.report_rows.get(row=3)
    assert row.outcome == "created" and row.finding_id != gone.pk
    assert Finding.objects.get(pk=row.finding_id).url == "https://a.example/3"
