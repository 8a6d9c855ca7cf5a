"""Bulk import: per-row outcomes, whole-file refusals, and crash-safe resumption."""

from __future__ import annotations

import pytest

from cases.intake.models import Finding, ImportJob
from cases.intake.services import imports
from cases.intake.services.import_chunks import Chunks, Prepared
from cases.intake.services.imports import (
    ImportRejected,
    decode_upload,
    import_job_create,
    import_job_run,
    parse_rows,
)
from cases.intake.tasks import import_job_run_task
from cases.kernel.audit.services import audit_chain_verify
from cases.kernel.models import AuditEvent
from tests.factories import make_finding

CSV = """url,artist,note
https://youtube.com/watch?v=1,Yuna,first
https://youtube.com/watch?v=1&utm_source=x,Yuna,same as row 2
javascript:alert(1),,bad scheme
https://x.com/p/9,Nobody,unknown artist
"https://t.me/c/1,2,broken quote
https://t.me/c/77,,fine

https://already.example/a,,
"""


def _run(agency, actor, text: str) -> ImportJob:  # type: ignore[no-untyped-def]
    job = import_job_create(agency=agency, actor=actor, text=text, filename="t.csv")
    return import_job_run(job_id=job.pk)


def test_each_row_gets_an_outcome_with_a_reason(agency, bob, artist) -> None:  # type: ignore[no-untyped-def]
    make_finding(agency, "https://already.example/a")
    job = _run(agency, bob, CSV)
    outcomes = {row: (outcome, reason) for row, outcome, _fid, reason in job.report}
    assert outcomes[2][0] == "created"
    assert outcomes[3] == ("duplicate", "same URL as row 2")
    assert outcomes[4][0] == "invalid" and "Only http and https" in outcomes[4][1]
    # A valid URL with a name not on the roster is recorded, with a warning to review.
    assert outcomes[5] == ("warning", "artist 'Nobody' not on the roster; left for review")
    assert outcomes[6][0] == "invalid" and "malformed CSV" in outcomes[6][1]
    assert outcomes[7][0] == "created"
    assert outcomes[9] == ("duplicate", "already recorded")
    assert (job.created_count, job.duplicate_count, job.invalid_count) == (2, 2, 2)
    assert job.warning_count == 1
    assert job.status == "done" and job.progress == 100
    created = Finding.objects.get(pk=next(fid for row, o, fid, _r in job.report if row == 2))
    assert [a.stage_name for a in created.artists.all()] == ["Yuna"]
    assert created.source == "import" and created.platform.name == "YouTube"


def test_plain_pasted_lines_need_no_header(agency, bob) -> None:  # type: ignore[no-untyped-def]
    job = _run(agency, bob, "https://a.example/1\n\nhttps://a.example/2\nnot a url at all\n")
    assert (job.created_count, job.invalid_count) == (2, 1)
    assert job.report[-1][0] == 4


def test_every_created_finding_is_in_the_audit_chain(agency, bob) -> None:  # type: ignore[no-untyped-def]
    job = _run(agency, bob, "\n".join(f"https://a.example/{n}" for n in range(30)))
    recorded = AuditEvent.objects.filter(
        agency=agency, action="finding.recorded", data__import=job.pk
    ).count()
    assert recorded == 30
    assert audit_chain_verify(agency=agency).ok


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"url\n\x00\x01\x02binary", "binary"),
        (b"\xff\xfe\xfa\xfb\xfc" * 10, "not UTF-8 or CP949"),
    ],
)
def test_unreadable_files_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(ImportRejected, match=message):
        decode_upload(data)


def test_korean_excel_csv_is_read(agency) -> None:  # type: ignore[no-untyped-def]
    text = decode_upload("주소\nhttps://a.example/유나\n".encode("cp949"))
    assert [row.url for row in parse_rows(text)] == ["https://a.example/유나"]


def test_an_oversized_file_is_refused(settings) -> None:  # type: ignore[no-untyped-def]
    settings.IMPORT_MAX_BYTES = 100
    with pytest.raises(ImportRejected, match="limit is"):
        decode_upload(b"https://a.example/\n" * 20)


def test_too_many_rows_are_refused_and_nothing_is_stored(agency, bob, settings) -> None:  # type: ignore[no-untyped-def]
    settings.IMPORT_MAX_ROWS = 5
    with pytest.raises(ImportRejected, match="limit is 5"):
        import_job_create(
            agency=agency, actor=bob, text="\n".join(f"https://a.example/{n}" for n in range(6))
        )
    assert not ImportJob.objects.exists()


def test_an_empty_import_is_refused(agency, bob) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ImportRejected, match="No URLs found"):
        import_job_create(agency=agency, actor=bob, text="url\n\n   \n")


def test_a_crash_mid_import_resumes_without_duplicates(agency, bob, monkeypatch, settings) -> None:  # type: ignore[no-untyped-def]
    settings.IMPORT_CHUNK_SIZE = 10
    job = import_job_create(
        agency=agency, actor=bob, text="\n".join(f"https://a.example/{n}" for n in range(25))
    )
    real_chunk = imports._process_chunk
    calls = {"n": 0}

    def crash_on_second_chunk(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 2:
            # The first chunk's checkpoint is committed; this one's work is rolled back.
            assert ImportJob.objects.get(pk=job.pk).processed_rows == 10
            assert Finding.objects.count() == 10
            raise ConnectionError("worker lost its database")
        return real_chunk(*args, **kwargs)

    monkeypatch.setattr(imports, "_process_chunk", crash_on_second_chunk)
    # The task releases the job and Celery retries it (inline here), which resumes it.
    import_job_run_task.apply(kwargs={"job_id": job.pk}, throw=False)

    job.refresh_from_db()
    assert calls["n"] == 4  # chunk 1, the crash, then chunks 2 and 3: none twice
    assert (job.status, job.attempts, job.progress) == ("done", 2, 100)
    assert (job.created_count, job.duplicate_count, job.processed_rows) == (25, 0, 25)
    assert Finding.objects.count() == 25
    assert sorted(row[0] for row in job.report) == list(range(1, 26))
    assert AuditEvent.objects.filter(action="finding.recorded").count() == 25
    assert AuditEvent.objects.filter(action="import.finished").count() == 1


def test_progress_is_checkpointed_with_each_chunk(agency, bob, monkeypatch, settings) -> None:  # type: ignore[no-untyped-def]
    settings.IMPORT_CHUNK_SIZE = 10
    job = import_job_create(
        agency=agency, actor=bob, text="\n".join(f"https://a.example/{n}" for n in range(25))
    )
    seen: list[tuple[int, int]] = []
    real_chunk = imports._process_chunk

    def spy(job, *args, **kwargs):  # type: ignore[no-untyped-def]
        stored = ImportJob.objects.get(pk=job.pk)
        seen.append((stored.processed_rows, stored.progress))
        return real_chunk(job, *args, **kwargs)

    monkeypatch.setattr(imports, "_process_chunk", spy)
    import_job_run(job_id=job.pk)
    assert seen == [(0, 0), (10, 40), (20, 80)]


def test_running_a_finished_job_again_does_nothing(agency, bob) -> None:  # type: ignore[no-untyped-def]
    job = _run(agency, bob, "https://a.example/1\nhttps://a.example/2\n")
    events = AuditEvent.objects.count()
    assert import_job_run(job_id=job.pk) is None
    job.refresh_from_db()
    assert job.created_count == 2 and job.attempts == 1
    assert Finding.objects.count() == 2
    assert AuditEvent.objects.count() == events


# ------------------------------------------- the chunk read ahead while the database works


def _chunk_reader(rows: int) -> Chunks:
    from concurrent.futures import ThreadPoolExecutor

    from cases.intake.canonical import UrlRules

    lines = [f"https://x.example/{n}" for n in range(1, rows + 1)]
    ahead = ThreadPoolExecutor(max_workers=1)
    return Chunks(imports.iter_rows(lines), UrlRules(), ahead)


def _urls(chunk: Prepared) -> list[str]:
    return [row.url.rsplit("/", 1)[1] for row in chunk.rows]


def test_chunks_are_read_ahead_in_order_and_end_with_an_empty_one(settings) -> None:  # type: ignore[no-untyped-def]
    settings.IMPORT_CHUNK_SIZE = 10
    chunks = _chunk_reader(25)
    first = chunks.take(0)
    assert _urls(first) == [str(n) for n in range(1, 11)] and len(first.pending) == 10
    assert chunks.next is not None  # the second chunk is on its way meanwhile
    assert _urls(chunks.take(10)) == [str(n) for n in range(11, 21)]
    assert _urls(chunks.take(20)) == [str(n) for n in range(21, 26)]
    assert chunks.take(25).rows == []


@pytest.mark.parametrize(("committed", "expected"), [(15, range(16, 26)), (20, range(21, 31))])
def test_a_chunk_read_ahead_is_realigned_when_another_run_moved_on(  # type: ignore[no-untyped-def]
    settings, committed, expected
) -> None:
    # Another run committed rows past the chunk read ahead (15: part of it; 20: all of it):
    # the next chunk starts right after what that run committed, nothing taken twice.
    settings.IMPORT_CHUNK_SIZE = 10
    chunks = _chunk_reader(30)
    chunks.take(0)
    chunk = chunks.take(committed)
    assert (chunk.start, _urls(chunk)) == (committed, [str(n) for n in expected])


def test_a_committed_count_that_went_back_fails_the_run_instead_of_mislabelling_rows(  # type: ignore[no-untyped-def]
    settings,
) -> None:
    settings.IMPORT_CHUNK_SIZE = 10
    chunks = _chunk_reader(30)
    chunks.take(0)  # rows 1-10, and 11-20 read ahead
    with pytest.raises(RuntimeError, match="went back"):
        chunks.take(5)
