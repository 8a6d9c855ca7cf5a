"""Bulk import of URLs: validated up front, processed by a worker in chunks with progress.

An import is a job (cases.kernel.jobs). Each chunk commits its findings, audit events,
report rows and the checkpoint together, so a worker killed mid-import resumes after the
last committed chunk and never records a row twice."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, connections, transaction
from django.utils.translation import gettext as _

from cases.agency.models import Artist
from cases.agency.services.platforms import PlatformIndex
from cases.intake.models import Finding, ImportJob, ImportJobStatus, ImportReportRow
from cases.intake.services.import_chunks import (  # the outcomes: callers read them here
    CREATED as CREATED,
)
from cases.intake.services.import_chunks import (
    DUPLICATE as DUPLICATE,
)
from cases.intake.services.import_chunks import (
    INVALID as INVALID,
)
from cases.intake.services.import_chunks import (
    REPORT_COLUMNS,
    ChunkPlan,
    Chunks,
    ImportContext,
    Prepared,
    ReportEntry,
    plan_findings,
    record_rows,
)
from cases.intake.services.import_chunks import (
    WARNING as WARNING,
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
from cases.kernel.audit.bulk import audit_append_json, audit_append_rows
from cases.kernel.audit.services import audit_record
from cases.kernel.bulk import ids_by_key, insert_copy_text, insert_tuples, take_ids
from cases.kernel.jobs import job_claim, job_enqueue, job_finish, job_progress, job_retry
from cases.kernel.models import Agency

# A planned chunk's findings meet a URL another writer recorded since it was planned.
UNIQUE_CANONICAL = "finding_unique_canonical_per_agency"
# A chunk's checkpoint: saved with its progress, in its transaction.
CHECKPOINT_FIELDS = (
    "processed_rows",
    "created_count",
    "warning_count",
    "duplicate_count",
    "invalid_count",
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


def _process_chunk(job: ImportJob, chunk: Prepared, context: ImportContext) -> None:
    """Record a chunk in the current transaction, under the job's lock: as planned where
    the database still says of its rows what the plan assumed, else the plain way."""
    plan = chunk.plan
    if plan is not None and _recorded_as_planned(job, plan):
        insert_tuples(Finding.artists.through, ("finding_id", "artist_id"), plan.links)
        audit_append_json(
            agency=job.agency,
            actor=job.created_by,
            rows=plan.events,
            copy_columns=plan.event_columns,
        )
        insert_copy_text(ImportReportRow, REPORT_COLUMNS, plan.report_text)
        _count(job, len(chunk.rows), plan.report)
        return
    # Another writer recorded (or deleted) one of the chunk's URLs since it was planned, or
    # the chunk before was not recorded as planned: what the database says now decides.
    # Rows of earlier chunks were committed: look them up in the database, like any other.
    keys = list(chunk.pending)
    existing = ids_by_key(Finding, "canonical_hash", keys, agency_id=job.agency_id)
    planned = plan_findings(context, chunk, existing)
    # PostgreSQL: ids from the sequence, COPY'd with the rows; elsewhere read back by hash.
    taken = take_ids(Finding, len(planned.values))
    if taken is not None:
        insert_tuples(
            Finding,
            ("id", *planned.columns),
            [(pk, *value) for pk, value in zip(taken, planned.values, strict=True)],
        )
        ids = {key: pk for (key, _r, _c), pk in zip(planned.new, taken, strict=True)}
    else:
        insert_tuples(Finding, planned.columns, planned.values)
        ids = ids_by_key(
            Finding, "canonical_hash", [key for key, _r, _c in planned.new], agency_id=job.agency_id
        )
    report, links, audit_rows = record_rows(context, planned, ids)
    insert_tuples(Finding.artists.through, ("finding_id", "artist_id"), links)
    audit_append_rows(agency=job.agency, actor=job.created_by, rows=audit_rows)
    insert_tuples(ImportReportRow, REPORT_COLUMNS, [(job.pk, *entry) for entry in report])
    _count(job, len(chunk.rows), report)


def _recorded_as_planned(job: ImportJob, plan: ChunkPlan) -> bool:
    """Insert the plan's findings if the database says of the chunk's rows what the plan
    assumed (as a lookup of all of them would, without one): the rows it found recorded
    are, with the same ids (usually none: one lookup of those only), and no other is,
    which the unique constraint on the canonical hash checks as they are inserted, in a
    savepoint that leaves nothing behind when another writer recorded one meanwhile."""
    if plan.existing:
        found = ids_by_key(Finding, "canonical_hash", list(plan.existing), agency_id=job.agency_id)
        if found != plan.existing:
            return False
    try:
        with transaction.atomic():
            insert_copy_text(Finding, plan.columns, plan.findings)
    except IntegrityError as exc:
        if _constraint(exc) != UNIQUE_CANONICAL:
            raise
        return False
    return True


def _constraint(exc: IntegrityError) -> str | None:
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None)


def _count(job: ImportJob, rows: int, report: list[ReportEntry]) -> None:
    job.processed_rows += rows
    outcomes = Counter(entry[1] for entry in report)
    job.created_count += outcomes[CREATED]
    job.warning_count += outcomes[WARNING]
    job.duplicate_count += outcomes[DUPLICATE]
    job.invalid_count += outcomes[INVALID]


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
    # Plans need ids before the insert: from the sequence, on PostgreSQL.
    plan_ahead = connection.vendor == "postgresql"
    context = ImportContext(job, platforms, artists_by_name, plan_ahead)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-ahead") as ahead:
        try:
            return _run_chunks(job, Chunks(rows, rules, ahead, context), context)
        finally:
            # The thread's own database connection (its plans read through it) ends with
            # the run, after any chunk it is still reading ahead.
            ahead.submit(connections.close_all)


def _run_chunks(job: ImportJob, chunks: Chunks, context: ImportContext) -> ImportJob | None:
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
            _process_chunk(job, chunk, context)
            total = max(job.total_rows, job.processed_rows)
            # The checkpoint and the progress in one statement.
            job_progress(
                job=job,
                percent=100 * job.processed_rows / total,
                step=_("%(done)s of %(total)s rows") % {"done": job.processed_rows, "total": total},
                fields=CHECKPOINT_FIELDS,
            )


def import_job_retry(*, job: ImportJob, actor: User) -> ImportJob:
    """Run a failed import again: it resumes after its last committed chunk."""
    return job_retry(job=job, actor=actor)
