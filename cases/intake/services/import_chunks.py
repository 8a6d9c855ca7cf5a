"""An import's rows in chunks, and what each chunk records: read, canonicalised and, on
PostgreSQL, planned to the byte one chunk ahead in a thread while the worker waits on the
database for the chunk before (services.imports checks the plan and sends it).

A plan (ChunkPlan) is the chunk's outcome computed from what the database says of its
canonical hashes when it is planned, plus the new findings of the chunk before it (not
committed yet then): finding ids from the sequence, the findings' and report rows' COPY
text, the audit events' data JSON. The worker applies it only where the database, read under
the job's lock, says exactly what the plan assumed; otherwise the chunk is recorded the
plain way (record_rows with a fresh lookup). Both ways compute the outcome with the same
functions (plan_findings, record_rows), so they record the same rows."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils.translation import override

from cases.agency.models import Artist
from cases.agency.services.platforms import PlatformIndex
from cases.intake.artist_ids_sql import artist_ids_text
from cases.intake.canonical import InvalidURL, UrlRules, canonical_hash, canonicalize_url_host
from cases.intake.import_reasons import ALREADY_RECORDED, NOT_ON_ROSTER, SAME_AS_ROW
from cases.intake.models import Finding, FindingSource, ImportJob
from cases.intake.services.import_rows import ImportRow
from cases.kernel.audit.bulk import audit_copy_columns
from cases.kernel.audit.hashing import hash_json
from cases.kernel.bulk import copy_text, ids_by_key, take_ids

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
# (row, outcome, finding id, raw url, column, message id, params as JSON, raw line)
ReportEntry = tuple[int, str, int | None, str, int | None, str, str, str]
# (action, object_type, object_id, data): an audit event of a new finding
AuditRow = tuple[str, str, str, dict[str, Any]]


def params_json(params: dict[str, Any] | None) -> str:
    return json.dumps(params, ensure_ascii=False) if params else ""


@dataclass(frozen=True, slots=True)
class ImportContext:
    """What recording a chunk needs of its run, read once: shared with the read-ahead
    thread, which only reads it (the job's id, agency and creator never change)."""

    job: ImportJob
    platforms: PlatformIndex
    artists_by_name: dict[str, Artist]
    plan_ahead: bool  # PostgreSQL: ids from the sequence, rows sent as COPY text


@dataclass(slots=True)
class ChunkPlan:
    """A chunk's outcome computed ahead (module docstring): valid while the database says
    `existing` of the chunk's hashes."""

    existing: dict[str, int]  # hash -> id of the chunk's rows already recorded
    created: dict[str, int]  # hash -> id of its new findings
    columns: tuple[str, ...]  # of `findings`
    findings: str  # the new findings as COPY text
    links: list[tuple[int, int]]  # (finding id, artist id)
    events: list[tuple[str, str, str, str]]  # audit rows, data as hash_json writes it
    event_columns: list[str]  # audit_copy_columns of the events
    report: list[ReportEntry]  # sorted by row
    report_text: str  # the report rows as COPY text (REPORT_COLUMNS)


@dataclass(slots=True)
class Prepared:
    """A chunk read and canonicalised: the report entries of its invalid rows and in-chunk
    duplicates, its other rows by canonical hash, and its plan where one was made."""

    start: int  # rows of the file before the chunk
    rows: list[ImportRow]
    report: list[ReportEntry]
    pending: dict[str, tuple[ImportRow, str, str]]  # hash -> (row, canonical url, host)
    plan: ChunkPlan | None = field(default=None)


def prepare(start: int, rows: list[ImportRow], rules: UrlRules) -> Prepared:
    """Canonicalise a chunk (pure computation)."""
    report: list[ReportEntry] = []
    pending: dict[str, tuple[ImportRow, str, str]] = {}
    # Messages of invalid URLs are kept in the source language (their ids), like ours.
    with override(None):
        for row in rows:
            if row.error:
                params = params_json(row.error_params)
                report.append(
                    (row.number, INVALID, None, row.url, row.column, row.error, params, row.raw)
                )
                continue
            try:
                canonical, host = canonicalize_url_host(row.url, rules)
            except InvalidURL as exc:
                params = params_json(exc.params)
                report.append(
                    (row.number, INVALID, None, row.url, row.column, exc.code, params, row.raw)
                )
                continue
            key = canonical_hash(canonical)
            if key in pending:
                first = params_json({"row": pending[key][0].number})
                report.append(
                    (row.number, DUPLICATE, None, row.url, row.column, SAME_AS_ROW, first, "")
                )
                continue
            pending[key] = (row, canonical, host)
    return Prepared(start, rows, report, pending)


def _finding_template(job: ImportJob) -> tuple[tuple[str, ...], list[Any], list[int]]:
    """The columns of a Finding insert, a row of database-ready values shared by every
    finding of a chunk (agency, source, creator, timestamps, defaults), and the positions
    of url, canonical_url, canonical_hash, host, platform_id and artist_ids to fill in per
    row (the artists' ids as the link table's triggers would keep them, so that inserting
    the links finds nothing to change: cases/intake/artist_ids_sql.py)."""
    connection = transaction.get_connection()
    template = Finding(agency=job.agency, source=FindingSource.IMPORT, created_by=job.created_by)
    fields = [f for f in Finding._meta.concrete_fields if not f.primary_key]
    values = [f.get_db_prep_save(f.pre_save(template, add=True), connection) for f in fields]
    columns = tuple(f.column for f in fields)
    slots = [
        columns.index(name)
        for name in ("url", "canonical_url", "canonical_hash", "host", "platform_id", "artist_ids")
    ]
    return columns, values, slots


@dataclass(slots=True)
class NewFindings:
    """The new findings of a chunk, before they have ids; `report` starts with the chunk's
    own entries and those of its rows already recorded."""

    columns: tuple[str, ...]
    values: list[list[Any]]
    new: list[tuple[str, ImportRow, str]]  # (hash, row, canonical url)
    report: list[ReportEntry]


def plan_findings(
    context: ImportContext, prepared: Prepared, existing: dict[str, int]
) -> NewFindings:
    """Which of the chunk's rows are new findings (with their column values), given the
    ids of those already recorded."""
    columns, base, slots = _finding_template(context.job)
    u_slot, c_slot, h_slot, host_slot, p_slot, a_slot = slots
    artists_by_name = context.artists_by_name
    report = list(prepared.report)
    values = []
    new: list[tuple[str, ImportRow, str]] = []
    platform_ids: dict[str, int | None] = {}
    for key, (row, canonical, host) in prepared.pending.items():
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
            platform = context.platforms.lookup(host)
            platform_ids[host] = platform.pk if platform is not None else None
        value = base.copy()
        value[u_slot], value[c_slot], value[h_slot] = row.url, canonical, key
        value[host_slot], value[p_slot] = host, platform_ids[host]
        value[a_slot] = artist_ids_text(
            artists_by_name[n.lower()].pk for n in row.artists if n.lower() in artists_by_name
        )
        values.append(value)
        new.append((key, row, canonical))
    return NewFindings(columns, values, new, report)


def record_rows(
    context: ImportContext, planned: NewFindings, ids: dict[str, int]
) -> tuple[list[ReportEntry], list[tuple[int, int]], list[AuditRow]]:
    """The chunk's report (sorted by row), artist links and audit rows, once its new
    findings have ids."""
    artists_by_name, job_pk = context.artists_by_name, context.job.pk
    report = planned.report
    # The findings are new: their links are too, once each ("A|A" names one artist).
    links: dict[tuple[int, int], None] = {}
    audit_rows: list[AuditRow] = []
    for key, row, canonical in planned.new:
        pk = ids[key]
        known = [artists_by_name[n.lower()] for n in row.artists if n.lower() in artists_by_name]
        # A name not on the roster does not cost the URL: the finding is recorded without
        # that artist, and the report lists the row for someone to review.
        unknown = [name for name in row.artists if name.lower() not in artists_by_name]
        data: dict[str, Any] = {"url": canonical, "source": "import", "import": job_pk}
        if unknown:
            names = params_json({"names": ", ".join(unknown)})
            report.append(
                (row.number, WARNING, pk, row.url, row.artist_column, NOT_ON_ROSTER, names, "")
            )
            data["unknown_artists"] = unknown
        else:
            report.append((row.number, CREATED, pk, row.url, row.column, "", "", ""))
        for artist in known:
            links[pk, artist.pk] = None
        audit_rows.append(("finding.recorded", "finding", str(pk), data))
    report.sort(key=lambda entry: entry[0])
    return report, list(links), audit_rows


def plan_chunk(
    context: ImportContext, prepared: Prepared, created_before: dict[str, int]
) -> ChunkPlan | None:
    """The chunk's plan (module docstring), `created_before` the new findings of the chunk
    before it, whose transaction may not have committed yet. None where a value cannot be
    written as COPY text: the chunk is recorded the plain way, which raises as it should."""
    keys = list(prepared.pending)
    found = ids_by_key(Finding, "canonical_hash", keys, agency_id=context.job.agency_id)
    existing = {
        key: found[key] if key in found else created_before[key]
        for key in keys
        if key in found or key in created_before
    }
    planned = plan_findings(context, prepared, existing)
    taken = take_ids(Finding, len(planned.values)) or []
    created = {key: pk for (key, _r, _c), pk in zip(planned.new, taken, strict=True)}
    report, links, audit_rows = record_rows(context, planned, created)
    job_pk = context.job.pk
    events = [(action, kind, pk, hash_json(data)) for action, kind, pk, data in audit_rows]
    try:
        findings = copy_text(
            [(pk, *value) for pk, value in zip(taken, planned.values, strict=True)]
        )
        report_text = copy_text([(job_pk, *entry) for entry in report])
        event_columns = audit_copy_columns(events)
    except (TypeError, ValueError):  # bulk's _NotCopyable, or a NUL character
        return None
    return ChunkPlan(
        existing,
        created,
        ("id", *planned.columns),
        findings,
        links,
        events,
        event_columns,
        report,
        report_text,
    )


class Chunks:
    """The file's rows in chunks, the next one read, canonicalised and planned ahead in a
    thread while the worker waits on the database (which releases the GIL): the database
    and the Python work of an import overlap on two cores. Only one thread touches the rows
    at a time: the main thread waits for the chunk read ahead before reading any itself.
    The thread plans through its own database connection (reads and sequence values only)."""

    def __init__(
        self,
        rows: Iterator[ImportRow],
        rules: UrlRules,
        ahead: Executor,
        context: ImportContext | None = None,
    ) -> None:
        self.rows, self.rules, self.ahead, self.context = rows, rules, ahead, context
        self.position = 0  # rows taken from `rows`
        self.next: Future[Prepared] | None = None

    def _read(
        self, size: int, kept: list[ImportRow], start: int, created_before: dict[str, int]
    ) -> Prepared:
        more = list(islice(self.rows, size - len(kept)))
        self.position += len(more)
        prepared = prepare(start, kept + more, self.rules)
        if self.context is not None and self.context.plan_ahead:
            prepared.plan = plan_chunk(self.context, prepared, created_before)
        return prepared

    def take(self, start: int) -> Prepared:
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
            # `start` (what was read ahead past it is kept). Everything before it is
            # committed: the database knows every finding created before it.
            kept = ready.rows[start - ready.start :] if ready is not None else []
            if start > self.position:
                self.position += sum(1 for _row in islice(self.rows, start - self.position))
            chunk = self._read(size, kept, start, {})
        if len(chunk.rows) == size:
            before = chunk.plan.created if chunk.plan is not None else {}
            self.next = self.ahead.submit(self._read, size, [], chunk.start + size, before)
        return chunk
