"""Retry the failed rows of an import: a new import of exactly the rows the first one
rejected, as they were in the file (their lines, under the file's header)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models.functions import Substr
from django.utils.translation import gettext as _

from cases.intake.models import ImportJob, ImportJobStatus
from cases.intake.services.import_files import import_file_lines
from cases.intake.services.imports import INVALID, ImportRejected, import_job_create
from cases.kernel.audit.services import audit_record

# A header longer than this is no header a person wrote.
HEADER_MAX_CHARS = 4000


def _header(job: ImportJob) -> str:
    """The first line of the job's file (its CSV header), without reading the whole file."""
    head: str = (
        ImportJob.objects.filter(pk=job.pk)
        .annotate(head=Substr("payload", 1, HEADER_MAX_CHARS))
        .values_list("head", flat=True)
        .get()
    )
    if head:
        return head.splitlines()[0]
    # An upload: its text is in the stored file, not on the job row.
    lines = import_file_lines(job.pk)
    try:
        return next(lines, "")[:HEADER_MAX_CHARS]
    finally:
        lines.close()


def import_failed_rows_text(*, job: ImportJob) -> str:
    """The text of a retry: the header (when the file had one) and the line of each row the
    import rejected, in file order. Rows stored before lines were kept give their URL."""
    rows = job.report_rows.filter(outcome=INVALID).order_by("row", "pk")
    lines = []
    has_header = False
    for raw, url, column in rows.values_list("raw", "url", "column").iterator(chunk_size=5000):
        lines.append(raw or url)
        has_header = has_header or column is not None
    if not lines:
        return ""
    if has_header:
        lines.insert(0, _header(job))
    return "\n".join(lines) + "\n"


def import_job_retry_failed_rows(*, job: ImportJob, actor: User) -> tuple[ImportJob, bool]:
    """Queue a new import of the rows `job` rejected; returns (the retry, created). One
    retry per import: a second request (a double click) gets the first one back."""
    if job.status != ImportJobStatus.DONE:
        raise ImportRejected(_("Only a finished import's failed rows can be retried."))
    try:
        with transaction.atomic():
            # The import's row lock makes two requests at once take turns; the second sees
            # the first one's retry (and the one-to-one constraint backs this up).
            ImportJob.objects.select_for_update().only("pk").get(pk=job.pk)
            existing = ImportJob.objects.filter(retry_of=job).first()
            if existing is not None:
                return existing, False
            text = import_failed_rows_text(job=job)
            if not text:
                raise ImportRejected(_("No row of this import failed."))
            retry = import_job_create(
                agency=job.agency,
                actor=actor,
                text=text,
                filename=job.filename,
                retry_of=job,
            )
            audit_record(
                agency=job.agency,
                actor=actor,
                action="import.failed_rows_retried",
                obj=job,
                data={"retry": retry.pk, "rows": retry.total_rows},
            )
    except IntegrityError:
        return ImportJob.objects.get(retry_of=job), False
    return retry, True
