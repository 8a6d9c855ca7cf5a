"""Uploaded imports are streamed: decoded, counted and stored in chunks, read back row by row,
with the same rows, line numbers and report as the same text pasted."""

from __future__ import annotations

import io

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile

from cases.intake.models import Finding, ImportJob
from cases.intake.services import import_files
from cases.intake.services.import_files import ImportRejected, import_file_name, text_lines
from cases.intake.services.imports import (
    import_job_create,
    import_job_create_from_upload,
    import_job_run,
)

pytestmark = pytest.mark.django_db

TEXT = (
    "\ufeffurl,artist\r\n"
    "https://a.example/유나,Yuna\r\n"
    "\r\n"
    "https://b.example/1\u2028https://c.example/2\n"
    '"https://d.example/x,Yuna\r'
    "https://e.example/🎤,\n"
    "https://a.example/유나?utm_source=x,\n"
    "last-without-newline"
)


class ChunkOnly(SimpleUploadedFile):
    """An upload that refuses to be read whole."""

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        assert 0 < size <= import_files.CHUNK, "the upload was read whole"
        return super().read(size)


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 1024])
@pytest.mark.parametrize("encoding", ["utf-8-sig", "cp949"])
def test_lines_read_in_chunks_are_the_lines_of_the_whole_text(monkeypatch, chunk, encoding) -> None:  # type: ignore[no-untyped-def]
    text = (
        TEXT
        if encoding == "utf-8-sig"
        else TEXT.translate({0x1F3A4: None, 0xFEFF: None, 0x2028: "\x0c"})
    )
    monkeypatch.setattr(import_files, "CHUNK", chunk)
    data = text.encode("utf-8" if encoding == "utf-8-sig" else encoding)  # TEXT has a BOM
    assert list(text_lines(io.BytesIO(data), encoding)) == text.lstrip("\ufeff").splitlines()


def test_an_upload_is_streamed_stored_and_reported_like_pasted_text(
    agency, bob, artist, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(import_files, "CHUNK", 16)
    text = TEXT.lstrip("\ufeff")  # as decode_upload gives pasted text
    pasted = import_job_run(job_id=import_job_create(agency=agency, actor=bob, text=text).pk)
    report = [entry for entry in pasted.report]
    Finding.objects.all().delete()
    upload = ChunkOnly("list.csv", TEXT.encode("utf-8"), content_type="text/csv")
    job = import_job_create_from_upload(agency=agency, actor=bob, upload=upload)
    assert (job.payload, job.filename, job.total_rows) == ("", "list.csv", pasted.total_rows)
    assert default_storage.exists(import_file_name(job.pk))
    job = import_job_run(job_id=job.pk)
    assert [entry for entry in job.report] == [
        [row, outcome, entry[2] if outcome == "created" else finding_id, reason]
        for (row, outcome, finding_id, reason), entry in zip(report, job.report, strict=True)
    ]
    assert (job.created_count, job.duplicate_count, job.invalid_count) == (
        pasted.created_count,
        pasted.duplicate_count,
        pasted.invalid_count,
    )


def test_an_upload_in_cp949_is_stored_as_utf8(agency, bob) -> None:  # type: ignore[no-untyped-def]
    upload = SimpleUploadedFile("목록.csv", "주소\nhttps://a.example/유나\n".encode("cp949"))
    job = import_job_run(
        job_id=import_job_create_from_upload(agency=agency, actor=bob, upload=upload).pk
    )
    assert job.created_count == 1
    assert Finding.objects.get().url == "https://a.example/유나"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"url\n" + b"https://a.example/1\n" * 5, "limit is 4"),
        (b"url\nhttps://a.example/\x00\n", "binary data"),
        (b"url\n\xff\xfe\xfa\n", "not UTF-8 or CP949"),
        (b"url\n\n", "No URLs found"),
    ],
)
def test_a_refused_upload_stores_nothing(agency, bob, settings, data, message) -> None:  # type: ignore[no-untyped-def]
    settings.IMPORT_MAX_ROWS = 4
    with pytest.raises(ImportRejected, match=message):
        import_job_create_from_upload(
            agency=agency, actor=bob, upload=SimpleUploadedFile("x.csv", data)
        )
    assert not ImportJob.objects.exists()
    assert not default_storage.exists("imports")


def test_the_default_limits_take_a_million_rows(settings) -> None:  # type: ignore[no-untyped-def]
    row = "https://www.tiktok.com/@user123/video/7312345678901234567?is_from_webapp=1\n"
    assert settings.IMPORT_MAX_ROWS == 1_000_000
    assert len(row.encode()) * 1_000_000 < settings.IMPORT_MAX_BYTES
