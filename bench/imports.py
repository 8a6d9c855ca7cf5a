"""Bulk import of 100,000 URLs through the real service (parse, canonicalise, dedupe, audit),
run synchronously in this process (no broker), then the audit-chain verify rate over the
100,000 events it wrote: keyed chain (HMAC-SHA256 per event), checked against an anchor of
its head in write-once storage, as `manage.py audit_verify` does, beside raw SHA-256 over
the same bytes.

On PostgreSQL (bench/run.py with DATABASE_URL naming a PostgreSQL server) it also prints
import_rows_per_s_pg and import_vs_copy_ratio: the import's rate over that of a bare COPY
of the same finding rows into a scratch table, measured in the same run."""

from __future__ import annotations

import hashlib
import io
import os

from common import emit, note, setup_django, timer

setup_django()

from django.conf import settings  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from agencyguard.celery import app as celery_app  # noqa: E402
from cases.agency.services.tenancy import agency_create, membership_create  # noqa: E402
from cases.intake.models import Finding, ImportJob, ImportJobStatus  # noqa: E402
from cases.intake.services.imports import decode_upload, import_job_create  # noqa: E402
from cases.kernel.audit.fastwalk import can_fork  # noqa: E402
from cases.kernel.audit.hashing import (  # noqa: E402
    EVENT_ROW_COLUMNS,
    EventRow,
    created_iso,
    hash_json,
    hashed_body,
)
from cases.kernel.audit.services import audit_anchor, audit_chain_verify  # noqa: E402
from cases.kernel.models import Agency, AuditEvent, Role  # noqa: E402

ROWS = int(os.getenv("BENCH_IMPORT_ROWS", "100000"))  # 100,000 for the figures
HOSTS = [
    "https://www.youtube.com/watch?v={n}&utm_source=share&si=abc",
    "https://x.com/user{u}/status/{n}?s=20",
    "https://www.tiktok.com/@user{u}/video/{n}?is_from_webapp=1",
    "https://www.instagram.com/reel/R{n}/?igshid=xyz",
    "https://t.me/channel{u}/{n}",
    "https://blog.naver.com/user{u}/{n}",
    "https://www.reddit.com/r/sub{u}/comments/{n}/?utm_medium=web",
    "https://files-{u}.example/v/{n}",
]


def csv_bytes(rows: int) -> bytes:
    lines = ["url"] + [HOSTS[n % len(HOSTS)].format(n=n, u=n % 499) for n in range(rows)]
    return "\n".join(lines).encode("utf-8")


def bare_copy_rate(agency: object) -> float:
    """Rows per second of a bare PostgreSQL COPY of the import's finding rows (as COPY text,
    every column but the id) into a scratch table with the same columns, no indexes."""
    table = Finding._meta.db_table
    columns = ", ".join(f.column for f in Finding._meta.concrete_fields if not f.primary_key)
    buffer = io.StringIO()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE bench_copy (LIKE {table}) ON COMMIT DROP")
        cursor.execute("ALTER TABLE bench_copy DROP COLUMN id")
        raw = cursor.cursor
        raw.copy_expert(
            f"COPY (SELECT {columns} FROM {table} WHERE agency_id = {agency.pk}) TO STDOUT",  # type: ignore[attr-defined]
            buffer,
        )
        buffer.seek(0)
        with timer() as elapsed:
            raw.copy_expert(f"COPY bench_copy ({columns}) FROM STDIN", buffer)
        seconds = elapsed()
        cursor.execute("SELECT count(*) FROM bench_copy")
        assert cursor.fetchone()[0] == ROWS
    return ROWS / seconds


def main() -> None:
    with transaction.atomic():
        agency = agency_create(name="Bench Import Agency", slug="bench-import")
        user = membership_create(
            agency=agency, actor=None, username="bench.importer", email="import@bench.example",
            password=None, role=Role.LEGAL,
        ).user  # fmt: skip
    data = csv_bytes(ROWS)
    note(f"CSV: {ROWS:,} rows, {len(data) / 1e6:.1f} MB")
    # The task runs inline as the transaction commits: the whole import in this process.
    celery_app.conf.task_always_eager = True
    with timer() as elapsed:
        text = decode_upload(data)
        with transaction.atomic():
            job = import_job_create(agency=agency, actor=user, text=text, filename="bench.csv")
    seconds = elapsed()
    job = ImportJob.objects.get(pk=job.pk)
    assert job.status == ImportJobStatus.DONE, job.error
    assert job.created_count == ROWS, (job.created_count, job.duplicate_count, job.invalid_count)
    assert Finding.objects.filter(agency=agency).count() == ROWS
    emit("import_100k_seconds", seconds, "s")
    emit("import_rows_per_s", ROWS / seconds, "rows/s")
    if connection.vendor == "postgresql":
        # Same rows, same server, same run: the import's rate, and a bare COPY's.
        emit("import_rows_per_s_pg", ROWS / seconds, "rows/s")
        copy_rate = bare_copy_rate(agency)
        note(f"bare COPY of the same {ROWS:,} finding rows: {copy_rate:,.0f} rows/s")
        emit("import_vs_copy_ratio", (ROWS / seconds) / copy_rate, "ratio")
    else:
        note("import_rows_per_s_pg and import_vs_copy_ratio skipped: not on PostgreSQL")

    key_ids = set(AuditEvent.objects.filter(agency=agency).values_list("key_id", flat=True))
    assert "" not in key_ids, "the bench measures the keyed chain"
    outcome = audit_anchor(agency=agency, reason="bench")
    assert outcome.record is not None, outcome.report.reason
    audit_verify_bench(agency, key_ids)


def audit_verify_bench(agency: Agency, key_ids: set[str]) -> None:
    """The verify rate, and raw SHA-256 (hashlib, no key) over the very bytes the verify
    hashes, in the same run: best of three each, interleaved, so a busy machine slows both."""
    bodies = [hashed_body_of(EventRow._make(row)) for row in
              AuditEvent.objects.filter(agency=agency).order_by("seq").values_list(*EVENT_ROW_COLUMNS)]  # fmt: skip
    verify_best = sha_best = float("inf")
    for _ in range(3):
        with timer() as elapsed:
            report = audit_chain_verify(agency=agency)
        verify_best = min(verify_best, elapsed())
        assert report.ok and report.anchors_matched == 1, report.reason
        with timer() as elapsed:
            for body in bodies:
                hashlib.sha256(body).hexdigest()
        sha_best = min(sha_best, elapsed())
    assert report.checked == len(bodies)
    note(f"audit chain: {report.checked:,} keyed events verified (key ids {sorted(key_ids)}), "
         f"{sum(map(len, bodies)) / len(bodies):.0f} bytes hashed per event")  # fmt: skip
    verify_rate, sha_rate = report.checked / verify_best, len(bodies) / sha_best
    note(f"raw SHA-256 over the same bytes: {sha_rate:,.0f} events/s")
    workers = settings.AUDIT_VERIFY_WORKERS
    note(f"verify: AUDIT_VERIFY_WORKERS={workers}, " + (
        f"{workers} forked processes" if workers > 1 and can_fork() else "one process"))  # fmt: skip
    emit("audit_verify_rate", verify_rate, "events/s")
    emit("audit_verify_vs_sha256", verify_rate / sha_rate, "ratio")


def hashed_body_of(event: EventRow) -> bytes:
    """The bytes the verifier hashes for this event (cases.kernel.audit.hashing)."""
    return hashed_body(
        event.agency_id, event.seq, event.actor_label, event.action, event.object_type,
        event.object_id, hash_json(event.data), created_iso(event.created_at),
        event.prev_hash, event.key_id,
    )  # fmt: skip


if __name__ == "__main__":
    main()
