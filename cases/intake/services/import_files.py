"""Uploaded import files, streamed: never read into memory whole.

An uploaded CSV arrives as a file (Django's upload handlers spool it to a temporary file
past FILE_UPLOAD_MAX_MEMORY_SIZE). It is decoded in chunks (UTF-8 with or without BOM,
else CP949), checked for binary data, written line by line as UTF-8 into the default
storage (`imports/<job id>.txt`) and its rows counted on the way; the worker reads the
stored file again in chunks, row by row, and only the current chunk's rows are in memory.
Pasted lines (a form field, at most IMPORT_MAX_PASTE_BYTES) stay on the job row
(`ImportJob.payload`); a job whose payload is empty reads its stored file.

Lines are split exactly as `str.splitlines()` splits the whole text, so a row has the same
line number whether it was pasted, uploaded or read back from storage."""

from __future__ import annotations

import codecs
import tempfile
from collections.abc import Generator, Iterator
from typing import IO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

CHUNK = 1024 * 1024
ENCODINGS = ("utf-8-sig", "cp949")  # Korean Excel saves CP949


class ImportRejected(ValueError):
    """The whole upload is refused (too big, not text); the message is for the user."""


def import_file_name(job_id: int) -> str:
    """Where an uploaded import's text is stored (default storage)."""
    return f"imports/{job_id}.txt"


def text_lines(stream: IO[bytes], encoding: str = "utf-8") -> Iterator[str]:
    """The lines of a byte stream read in chunks, as `text.splitlines()` gives them for the
    whole decoded text. Raises UnicodeDecodeError, and ImportRejected on a NUL byte."""
    decoder = codecs.getincrementaldecoder(encoding)()
    tail = ""
    while chunk := stream.read(CHUNK):
        if b"\x00" in chunk:  # PostgreSQL cannot store it; no CSV or list of URLs has one
            raise ImportRejected(_("This is not a CSV or text file (it contains binary data)."))
        lines = (tail + decoder.decode(chunk)).splitlines(keepends=True)
        # The last line may go on in the next chunk (or be the "\r" of a "\r\n").
        tail = lines.pop() if lines else ""
        yield from "".join(lines).splitlines()
    yield from (tail + decoder.decode(b"", final=True)).splitlines()


def upload_lines(upload: UploadedFile, spool: IO[bytes]) -> Iterator[str]:
    """The lines of an uploaded file, decoded in chunks (UTF-8, else CP949), each also
    written to `spool` as UTF-8; raises ImportRejected for a file that is too big, binary
    or in neither encoding. The caller reads the iterator to its end."""
    if upload.size is not None and upload.size > settings.IMPORT_MAX_BYTES:
        raise ImportRejected(
            _("The file is %(size)s MB; the limit is %(limit)s MB. Split it into smaller files.")
            % {
                "size": round(upload.size / 1e6, 1),
                "limit": round(settings.IMPORT_MAX_BYTES / 1e6),
            }
        )
    for encoding in ENCODINGS:
        upload.seek(0)
        spool.seek(0)
        spool.truncate()
        try:
            for line in text_lines(upload, encoding):
                spool.write(line.encode("utf-8") + b"\n")
                yield line
            return
        except UnicodeDecodeError:
            continue
    raise ImportRejected(_("The file is not UTF-8 or CP949 text."))


def spool_file() -> IO[bytes]:
    """A temporary file for an upload's decoded text (removed when closed)."""
    return tempfile.TemporaryFile()


def import_file_store(*, job_id: int, spool: IO[bytes]) -> None:
    """Store an upload's decoded text for the worker, under the job's name."""
    name = import_file_name(job_id)
    default_storage.delete(name)  # a leftover of a rolled-back job with the same id
    spool.seek(0)
    default_storage.save(name, File(spool, name=name))


def import_file_lines(job_id: int) -> Generator[str, None, None]:
    """The stored upload of a job, line by line, read in chunks."""
    with default_storage.open(import_file_name(job_id), "rb") as stream:
        yield from text_lines(stream)
