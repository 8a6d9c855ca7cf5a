"""insert_tuples (COPY on PostgreSQL, multi-row INSERT on SQLite) stores hostile values
exactly as the ORM does: text, NULLs and JSON, read back identically."""

from __future__ import annotations

import pytest
from django.db import connection, transaction

from cases.intake.models import Finding, ImportReportRow
from cases.intake.services.imports import ImportRejected, import_job_create, import_job_run
from cases.kernel import bulk
from cases.kernel.audit.bulk import audit_append_rows
from cases.kernel.audit.services import audit_chain_verify, audit_record
from cases.kernel.bulk import copy_text, insert_tuples
from cases.kernel.models import AuditEvent

pytestmark = pytest.mark.django_db

HOSTILE = [
    "tab\there",
    "new\nline",
    "carriage\r\nreturn",
    "back\\slash\\",
    "\\N",
    "\\.",
    "a\n\\.\nb",
    "\\t not a tab",
    "\"double\" and 'single' quotes, commas,",
    "유나 공식 계정 — 삭제 요청",
    "emoji 🎤🔥👩‍🎤",
    "x" * 100_000,
    "",
    " ",
    "\u2028\u2029\x7f\x1b",
]
COLUMNS = ("job_id", "row", "outcome", "finding_id", "url", "column", "code", "params", "raw")


@pytest.fixture
def job(agency, bob):  # type: ignore[no-untyped-def]
    return import_job_create(agency=agency, actor=bob, text="https://a.example/1")


def _stored(job_id: int, outcome: str) -> list[tuple[object, ...]]:
    return list(
        ImportReportRow.objects.filter(job_id=job_id, outcome=outcome)
        .order_by("row")
        .values_list("row", "finding_id", "url", "column", "code", "params", "raw")
    )


def test_the_text_format_escapes_every_special_character() -> None:
    text = copy_text([("a\tb", None, "\\N", "x\ny\rz\\", 7, True, False)])
    assert text == "a\\tb\t\\N\t\\\\N\tx\\ny\\rz\\\\\t7\tt\tf\n"


@pytest.mark.parametrize("plain_only", [False, True])
def test_a_column_is_escaped_exactly_as_value_by_value(plain_only: bool) -> None:
    """Columns are escaped only when some value needs it (bulk._text_column): the text is
    what escaping every value gives, for columns with and without special characters."""
    values = [*HOSTILE, "https://www.youtube.com/watch?v=1", "plain", "유나"]
    if plain_only:
        values = [v for v in values if not any(c in v for c in "\\\t\n\r")]
    expected = "".join(v.translate(bulk._ESCAPES) + "\n" for v in values)
    assert copy_text([(v,) for v in values]) == expected
    assert copy_text([(v, None) for v in values]) == expected.replace("\n", "\t\\N\n")
    mixed = [(None,), *[(v,) for v in values]]  # str and None: escaped value by value
    assert copy_text(mixed) == "\\N\n" + expected


def test_hostile_values_round_trip_like_the_orm(job) -> None:  # type: ignore[no-untyped-def]
    rows = []
    for number, value in enumerate(HOSTILE, start=1):
        finding_id = None if number % 2 else 10**12 + number  # NULL and a bigint
        column = None if number % 3 else 2
        rows.append((number, finding_id, value, column, value[:50], value[-50:], value))
    with transaction.atomic():
        insert_tuples(
            ImportReportRow, COLUMNS, [(job.pk, row, "bulk", *rest) for row, *rest in rows]
        )
        ImportReportRow.objects.bulk_create(
            [
                ImportReportRow(
                    job=job,
                    row=row,
                    outcome="orm",
                    finding_id=fid,
                    url=url,
                    column=col,
                    code=code,
                    params=params,
                    raw=raw,
                )
                for row, fid, url, col, code, params, raw in rows
            ]
        )
    assert _stored(job.pk, "bulk") == _stored(job.pk, "orm") == rows


def test_json_data_of_audit_events_round_trips_and_verifies(agency, bob) -> None:  # type: ignore[no-untyped-def]
    payloads = [{"v": value, "n": None, "t": True, "list": [1, 2.5, value]} for value in HOSTILE]
    with transaction.atomic():
        for n, data in enumerate(payloads):
            audit_record(agency=agency, actor=bob, action="x.orm", data={**data, "i": n})
        audit_append_rows(
            agency=agency,
            actor=bob,
            rows=[("x.bulk", "t", str(n), {**data, "i": n}) for n, data in enumerate(payloads)],
        )
    by_action = {
        action: [
            data
            for data in AuditEvent.objects.filter(agency=agency, action=action)
            .order_by("seq")
            .values_list("data", flat=True)
        ]
        for action in ("x.orm", "x.bulk")
    }
    assert (
        by_action["x.bulk"]
        == by_action["x.orm"]
        == [{**data, "i": n} for n, data in enumerate(payloads)]
    )
    assert audit_chain_verify(agency=agency).ok


def test_an_import_of_hostile_urls_reports_the_raw_values(agency, bob) -> None:  # type: ignore[no-untyped-def]
    # Through the whole import: each raw cell comes back in the report as it was written.
    cells = ["https://ok.example/a\\b", "https://ok.example/탭", "\\N", "no scheme \\."]
    text = "url\n" + "\n".join(f'"{cell}"' for cell in cells)
    job = import_job_create(agency=agency, actor=bob, text=text)
    import_job_run(job_id=job.pk)
    assert list(job.report_rows.order_by("row").values_list("url", flat=True)) == cells


def test_a_nul_character_is_refused_before_the_write_path(agency, bob) -> None:  # type: ignore[no-untyped-def]
    # The import refuses it whole (PostgreSQL cannot store it); the COPY path would raise
    # the same ValueError as the ORM's INSERT, never store a truncated value.
    with pytest.raises(ImportRejected):
        import_job_create(agency=agency, actor=bob, text="url\nhttps://a.example/\x00b\n")
    with pytest.raises(ValueError, match="NUL"):
        copy_text([("a\x00b",)])


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY path is PostgreSQL's")
def test_postgresql_writes_with_copy_not_insert(job, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def no_insert(*args: object) -> None:
        raise AssertionError("INSERT used on PostgreSQL")

    monkeypatch.setattr(bulk, "_insert", no_insert)
    with transaction.atomic():
        insert_tuples(ImportReportRow, COLUMNS, [(job.pk, 1, "bulk", None, "u", None, "", "", "")])
    assert _stored(job.pk, "bulk") == [(1, None, "u", None, "", "", "")]
    with pytest.raises(ValueError, match="NUL"), transaction.atomic():
        insert_tuples(
            ImportReportRow, COLUMNS, [(job.pk, 2, "bulk", None, "\x00", None, "", "", "")]
        )


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the COPY path is PostgreSQL's")
def test_an_import_on_postgresql_copies_findings_links_events_and_report(  # type: ignore[no-untyped-def]
    agency, bob, artist, monkeypatch
) -> None:
    def no_insert(*args: object) -> None:
        raise AssertionError("INSERT used on PostgreSQL")

    monkeypatch.setattr(bulk, "_insert", no_insert)
    text = "url,artist\nhttps://a.example/1,Yuna|yuna\nhttps://a.example/1?utm_source=x,\nbad,\n"
    job = import_job_run(job_id=import_job_create(agency=agency, actor=bob, text=text).pk)
    finding = Finding.objects.get(agency=agency, canonical_url="https://a.example/1")
    assert (finding.source, finding.status) == ("import", "new")
    assert list(finding.artists.all()) == [artist]
    assert [entry[1] for entry in job.report] == ["created", "duplicate", "invalid"]
    assert AuditEvent.objects.filter(action="finding.recorded", object_id=str(finding.pk)).exists()
    assert audit_chain_verify(agency=agency).ok
