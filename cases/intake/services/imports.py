"""Bulk import of URLs: validated up front, processed by a worker in chunks with progress.

An import is a job (cases.kernel.jobs). Each chunk commits its findings, audit events,
report rows and the checkpoint together, so a worker killed mid-import resumes after the
last committed chunk and never records a row twice."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext as _
from django.utils.translation import override

from cases.agency.models import Artist
from cases.agency.services.platforms import PlatformIndex
from cases.intake.canonical import (
    InvalidURL,
    UrlRules,
    canonical_hash,
    canonicalize_url_host,
)
from cases.intake.import_reasons import (
    ALREADY_RECORDED,
    NOT_ON_ROSTER,
    SAME_AS_ROW,
)
from cases.intake.models import (
    Finding,
    FindingSource,
    ImportJob,
    ImportJobStatus,
    ImportReportRow,
)
from cases.intake.services.import_files import (
    ImportRejected as ImportRejected,  # raised here too: callers catch it from here
)
from cases.intake.services.import_files import (
    import_file_lines,
    import_file_store,
    spool_file,
    upload_lines,
)
from cases.intake.services.import_rows import ImportRow, iter_rows
from cases.intake.services.import_rows import (  # callers import them from here too
    decode_upload as decode_upload,
)
from cases.intake.services.import_rows import (
    parse_rows as parse_rows,
)
from cases.intake.services.url_rules import url_rules
from cases.kernel.audit.bulk import audit_append_rows
from cases.kernel.audit.services import audit_record
from cases.kernel.bulk import ids_by_key, insert_tuples, take_ids
from cases.kernel.jobs import job_claim, job_enqueue, job_finish, job_progress, job_retry
from cases.kernel.models import Agency

CREATED, DUPLICATE, INVALID = "created", "duplicate", "invalid"
WARNING = "warning"  # recorded, with something left for review (an unknown artist name)
# Report reasons are stored untranslated (message id + parameters) and rendered in the
# reader's language (cases.intake.import_reasons).
REPORT_COLUMNS = (
    "job_id",
    "row",
    "outcome",
    "finding_id",
    "url",
    "column",
    "code",
    "params",
    "raw",
)


def _row_count(rows: Iterable[ImportRow]) -> int:
    """How many rows an import has, refused when none or past IMPORT_MAX_ROWS."""
    count = sum(1 for _row in rows)
    if not count:
        raise ImportRejected(
            _("No URLs found: paste one URL per line or upload a CSV with a 'url' column.")
        )
    if count > settings.IMPORT_MAX_ROWS:
        raise ImportRejected(
            _("The import has %(rows)s rows; the limit is %(limit)s. Split it into smaller files.")
            % {"rows": f"{count:,}", "limit": f"{settings.IMPORT_MAX_ROWS:,}"}
        )
    return count


def import_job_create(
    *,
    agency: Agency,
    actor: User,
    text: str,
    filename: str = "",
    retry_of: ImportJob | None = None,
) -> ImportJob:
    """Validate an import's size and row count, store it, and queue it for a worker.
    `retry_of`: the import whose failed rows this one imports again."""

    if "\x00" in text:  # PostgreSQL cannot store it; no CSV or list of URLs has one
        raise ImportRejected(_("This is not a CSV or text file (it contains binary data)."))
    count = _row_count(iter_rows(text.splitlines()))
    return _job_create(agency, actor, filename, count, payload=text, retry_of=retry_of)


def import_job_create_from_upload(
    *, agency: Agency, actor: User, upload: UploadedFile
) -> ImportJob:
    """import_job_create for an uploaded file, streamed: decoded and counted in chunks,
    stored (services.import_files) for the worker to read again in chunks."""
    with spool_file() as spool:
        count = _row_count(iter_rows(upload_lines(upload, spool)))
        return _job_create(agency, actor, upload.name or "", count, spool=spool)


def _job_create(
    agency: Agency,
    actor: User,
    filename: str,
    count: int,
    payload: str = "",
    spool: IO[bytes] | None = None,
    retry_of: ImportJob | None = None,
) -> ImportJob:
    with transaction.atomic():
        job = ImportJob.objects.create(
            agency=agency,
            created_by=actor,
            filename=filename[:255],
            payload=payload,  # empty for an upload: its text is in the stored file
            total_rows=count,
            retry_of=retry_of,
        )
        if spool is not None:
            import_file_store(job_id=job.pk, spool=spool)
        data: dict[str, Any] = {"rows": count, "filename": filename[:255]}
        if retry_of is not None:
            data["retry_of"] = retry_of.pk
        audit_record(agency=agency, actor=actor, action="import.created", obj=job, data=data)
        job_enqueue(job=job)
    return job


def _params(params: dict[str, Any] | None) -> str:
    return json.dumps(params, ensure_ascii=False) if params else ""


def _finding_template(job: ImportJob) -> tuple[tuple[str, ...], list[Any], list[int]]:
    """The columns of a Finding insert, a row of database-ready values shared by every
    finding of a chunk (agency, source, creator, timestamps, defaults), and the positions
    of url, canonical_url, canonical_hash, host and platform_id to fill in per row."""
    connection = transaction.get_connection()
    template = Finding(agency=job.agency, source=FindingSource.IMPORT, created_by=job.created_by)
    fields = [f for f in Finding._meta.concrete_fields if not f.primary_key]
    values = [f.get_db_prep_save(f.pre_save(template, add=True), connection) for f in fields]
    columns = tuple(f.column for f in fields)
    slots = [
        columns.index(name)
        for name in ("url", "canonical_url", "canonical_hash", "host", "platform_id")
    ]
    return columns, values, slots


# (row, outcome, finding id, raw url, column, message id, params as JSON, raw line)
ReportEntry = tuple[int, str, int | None, str, int | None, str, str, str]


@dataclass(slots=True)
class _Prepared:
    """A chunk read and canonicalised, before any database work: the report entries of
    its invalid rows and in-chunk duplicates, and its other rows by canonical hash."""

    start: int  # rows of the file before the chunk
    rows: list[ImportRow]
    report: list[ReportEntry]
    pending: dict[str, tuple[ImportRow, str, str]]  # hash -> (row, canonical url, host)


def _prepare(start: int, rows: list[ImportRow], rules: UrlRules) -> _Prepared:
    """Canonicalise a chunk (pure computation: run one chunk ahead in a thread while the
    worker waits on the database for the chunk before)."""
    report: list[ReportEntry] = []
    pending: dict[str, tuple[ImportRow, str, str]] = {}
    # Messages of invalid URLs are kept in the source language (their ids), like ours.
    with override(None):
        for row in rows:
            if row.error:
                params = _params(row.error_params)
                report.append(
                    (row.number, INVALID, None, row.url, row.column, row.error, params, row.raw)
                )
                continue
            try:
                canonical, host = canonicalize_url_host(row.url, rules)
            except InvalidURL as exc:
                params = _params(exc.params)
                report.append(
                    (row.number, INVALID, None, row.url, row.column, exc.code, params, row.raw)
                )
                continue
            key = canonical_hash(canonical)
            if key in pending:
                first = _params({"row": pending[key][0].number})
                report.append(
                    (row.number, DUPLICATE, None, row.url, row.column, SAME_AS_ROW, first, "")
                )
                continue
            pending[key] = (row, canonical, host)
    return _Prepared(start, rows, report, pending)


def _process_chunk(
    job: ImportJob,
    prepared: _Prepared,
    platforms: PlatformIndex,
    artists_by_name: dict[str, Artist],
) -> None:
    rows, report, pending = prepared.rows, prepared.report, prepared.pending
    # Rows of earlier chunks were committed: look them up in the database, like any other.
    existing = ids_by_key(Finding, "canonical_hash", list(pending), agency_id=job.agency_id)
    columns, base, slots = _finding_template(job)
    u_slot, c_slot, h_slot, host_slot, p_slot = slots
    values = []
    new: list[tuple[str, ImportRow, str]] = []
    platform_ids: dict[str, int | None] = {}
    for key, (row, canonical, host) in pending.items():
        if key in existing:
            report.append(
                (
                    row.number,
                    DUPLICATE,
                    existing[key],
                    row.url,
                    row.column,
                    ALREADY_RECORDED,
                    "",
                    "",
                )
            )
            continue
        if host not in platform_ids:  # a chunk repeats a few hosts: looked up once each
            platform = platforms.lookup(host)
            platform_ids[host] = platform.pk if platform is not None else None
        value = base.copy()
        value[u_slot], value[c_slot], value[h_slot] = row.url, canonical, key
        value[host_slot], value[p_slot] = host, platform_ids[host]
        values.append(value)
        new.append((key, row, canonical))
    # PostgreSQL: ids from the sequence, COPY'd with the rows; elsewhere read back by hash.
    taken = take_ids(Finding, len(values))
    if taken is not None:
        insert_tuples(
            Finding,
            ("id", *columns),
            [(pk, *value) for pk, value in zip(taken, values, strict=True)],
        )
        ids = {key: pk for (key, _r, _c), pk in zip(new, taken, strict=True)}
    else:
        insert_tuples(Finding, columns, values)
        ids = ids_by_key(
            Finding, "canonical_hash", [key for key, _r, _c in new], agency_id=job.agency_id
        )
    # The findings are new: their links are too, once each ("A|A" names one artist).
    links: dict[tuple[int, int], None] = {}
    audit_rows = []
    warnings = 0
    for key, row, canonical in new:
        pk = ids[key]
        known = [artists_by_name[n.lower()] for n in row.artists if n.lower() in artists_by_name]
        # A name not on the roster does not cost the URL: the finding is recorded without
        # that artist, and the report lists the row for someone to review.
        unknown = [name for name in row.artists if name.lower() not in artists_by_name]
        data = {"url": canonical, "source": "import", "import": job.pk}
        if unknown:
            warnings += 1
            names = _params({"names": ", ".join(unknown)})
            report.append(
                (row.number, WARNING, pk, row.url, row.artist_column, NOT_ON_ROSTER, names, "")
            )
            data["unknown_artists"] = unknown
        else:
            report.append((row.number, CREATED, pk, row.url, row.column, "", "", ""))
        for artist in known:
            links[pk, artist.pk] = None
        audit_rows.append(("finding.recorded", "finding", str(pk), data))
    insert_tuples(Finding.artists.through, ("finding_id", "artist_id"), list(links))
    audit_append_rows(agency=job.agency, actor=job.created_by, rows=audit_rows)
    report.sort(key=lambda entry: entry[0])
    insert_tuples(ImportReportRow, REPORT_COLUMNS, [(job.pk, *entry) for entry in report])
    job.processed_rows += len(rows)
    job.created_count += len(new) - warnings
    job.warning_count += warnings
    job.duplicate_count += sum(1 for r in report if r[1] == DUPLICATE)
    job.invalid_count += sum(1 for r in report if r[1] == INVALID)


def _locked_running(job_id: int) -> ImportJob | None:
    job = (
        ImportJob.objects.select_for_update(of=("self",))
        .select_related("agency", "created_by")
        .defer("payload")  # read once, at the start of the run
        .get(pk=job_id)
    )
    return job if job.status == ImportJobStatus.RUNNING else None


def import_job_run(*, job_id: int) -> ImportJob | None:
    """Process (or resume) an import job: the worker's side. Each chunk is taken, processed
    and checkpointed (processed_rows, progress, heartbeat) under the job's row lock in one
    transaction with its findings and audit events, so a run that dies mid-chunk leaves
    nothing of it, and the next run (or a second one at the same time) continues after
    the last committed chunk. Returns None when the job is finished or no longer this
    run's (failed or requeued meanwhile); raises JobBusy while a live worker has it."""
    job = job_claim(
        model=ImportJob, pk=job_id, related=("agency", "created_by"), step=_("Starting")
    )
    if job is None:
        return None
    # Read once per run, row by row: a stored upload streams; only a chunk is in memory.
    rows = iter_rows(job.payload.splitlines() if job.payload else import_file_lines(job.pk))
    platforms = PlatformIndex.for_agency(job.agency)
    rules = url_rules(platforms)  # once per run: the platforms are read once, not per row
    artists_by_name = {a.stage_name.lower(): a for a in Artist.objects.filter(agency=job.agency)}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-ahead") as ahead:
        chunks = _Chunks(rows, rules, ahead)
        return _run_chunks(job, chunks, platforms, artists_by_name)


class _Chunks:
    """The file's rows in chunks, the next one read and canonicalised ahead in a thread
    while the worker waits on the database (which releases the GIL): the database and the
    Python work of an import overlap on two cores. Only one thread touches the rows at a
    time: the main thread waits for the chunk read ahead before reading any itself."""

    def __init__(self, rows: Iterator[ImportRow], rules: UrlRules, ahead: Executor) -> None:
        self.rows, self.rules, self.ahead = rows, rules, ahead
        self.position = 0  # rows taken from `rows`
        self.next: Future[_Prepared] | None = None

    def _read(self, size: int, kept: list[ImportRow], start: int) -> _Prepared:
        more = list(islice(self.rows, size - len(kept)))
        self.position += len(more)
        return _prepare(start, kept + more, self.rules)

    def take(self, start: int) -> _Prepared:
        """The chunk after the first `start` rows (the job's committed count, read under its
        lock: two runs never take the same rows); the chunk after it is started ahead."""
        size = settings.IMPORT_CHUNK_SIZE
        ready = self.next.result() if self.next is not None else None
        self.next = None
        if ready is not None and ready.start == start:
            chunk = ready
        else:
            if start < (ready.start if ready is not None else self.position):
                # Committed rows never decrease under the job's lock; rows already read
                # cannot be read again: fail the run (it is retried) rather than mislabel.
                raise RuntimeError(f"import rows went back from {self.position} to {start}")
            # The first chunk, or another run committed rows meanwhile: read on from
            # `start` (what was read ahead past it is kept).
            kept = ready.rows[start - ready.start :] if ready is not None else []
            if start > self.position:
                self.position += sum(1 for _row in islice(self.rows, start - self.position))
            chunk = self._read(size, kept, start)
        if len(chunk.rows) == size:
            self.next = self.ahead.submit(self._read, size, [], chunk.start + size)
        return chunk


def _run_chunks(
    job: ImportJob, chunks: _Chunks, platforms: PlatformIndex, artists_by_name: dict[str, Artist]
) -> ImportJob | None:
    while True:
        with transaction.atomic():
            locked = _locked_running(job.pk)
            if locked is None:
                return None
            job = locked
            chunk = chunks.take(job.processed_rows)
            if not chunk.rows:
                job.total_rows = job.processed_rows
                job_finish(job=job, update_fields=["total_rows"])
                audit_record(
                    agency=job.agency,
                    actor=job.created_by,
                    action="import.finished",
                    obj=job,
                    data={
                        "created": job.created_count,
                        "duplicate": job.duplicate_count,
                        "invalid": job.invalid_count,
                        "warnings": job.warning_count,
                    },
                )
                return job
            _process_chunk(job, chunk, platforms, artists_by_name)
            job.save(
                update_fields=[
                    "processed_rows",
                    "created_count",
                    "warning_count",
                    "duplicate_count",
                    "invalid_count",
                ]
            )
            total = max(job.total_rows, job.processed_rows)
            job_progress(
                job=job,
                percent=100 * job.processed_rows / total,
                step=_("%(done)s of %(total)s rows") % {"done": job.processed_rows, "total": total},
            )


def import_job_retry(*, job: ImportJob, actor: User) -> ImportJob:
    """Run a failed import again: it resumes after its last committed chunk."""
    return job_retry(job=job, actor=actor)
