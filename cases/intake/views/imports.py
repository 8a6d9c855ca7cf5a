from __future__ import annotations

import csv
from collections.abc import Iterator

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRefresh

from cases.intake.forms import ImportForm
from cases.intake.models import ImportJob, ImportJobStatus
from cases.intake.selectors import import_job_get_for, import_job_list_for
from cases.intake.services.import_retries import import_job_retry_failed_rows
from cases.intake.services.imports import (
    DUPLICATE,
    INVALID,
    WARNING,
    ImportRejected,
    decode_upload,
    import_job_create,
    import_job_create_from_upload,
    import_job_retry,
)
from cases.kernel.jobs import JobNotRetryable
from cases.kernel.models import Role
from cases.kernel.tenancy import can_write, get_or_404
from cases.kernel.web import HtmxHttpRequest, job_queued_message, member_required, paginate

FINISHED = (ImportJobStatus.DONE, ImportJobStatus.FAILED)
# The "imported with warnings" list shows this many rows; the CSV report has them all.
WARNINGS_SHOWN = 200
# A cell starting with one of these is a formula in a spreadsheet: quote it (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


@member_required(read=Role.LEGAL)
def import_create(request: HtmxHttpRequest) -> HttpResponse:
    form = ImportForm(request.POST, request.FILES) if request.method == "POST" else ImportForm()
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        agency = request.membership.agency
        try:
            if upload:  # streamed: decoded, counted and stored in chunks, never read whole
                job = import_job_create_from_upload(
                    agency=agency, actor=request.user, upload=upload
                )
            else:  # pasted text goes through the same size and encoding checks as a file
                data = form.cleaned_data["lines"].encode("utf-8")
                job = import_job_create(agency=agency, actor=request.user, text=decode_upload(data))
        except ImportRejected as exc:
            form.add_error("file" if upload else "lines", str(exc))
        else:
            job_queued_message(request, job)
            return redirect("import_detail", pk=job.pk)
    context = {"form": form, "max_mb": round(settings.IMPORT_MAX_BYTES / 1e6, 1)}
    return render(request, "cases/import_create.html", context)


@require_GET
@member_required()
def import_list(request: HtmxHttpRequest) -> HttpResponse:
    page = paginate(request, import_job_list_for(request.user).select_related("created_by"))
    return render(request, "cases/import_list.html", {"page": page})


@require_GET
@member_required()
def import_detail(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    if request.htmx and request.GET.get("poll"):
        # The progress poll: a light row without the report; once the job is finished the
        # whole page reloads to show the report, and the reloaded page no longer polls.
        job = get_or_404(import_job_list_for(request.user), pk=pk)
        if job.status in FINISHED:
            return HttpResponseClientRefresh()
        return render(request, "cases/import_detail.html#progress", {"job": job})
    job = import_job_get_for(request.user, pk)
    problem_count = job.invalid_count + job.duplicate_count
    problems = job.report_rows.filter(outcome__in=(INVALID, DUPLICATE)).order_by("row", "pk")
    warnings = job.report_rows.filter(outcome=WARNING).order_by("row", "pk")
    retry = ImportJob.objects.filter(retry_of=job).only("pk", "status").first()
    context = {
        "job": job,
        "page": paginate(request, problems),
        "problem_count": problem_count,
        "warnings": list(warnings[:WARNINGS_SHOWN]) if job.warning_count else [],
        "warnings_more": max(job.warning_count - WARNINGS_SHOWN, 0),
        "retry": retry,
        "finished": job.status in FINISHED,
        "can_write": can_write(request.user),
    }
    return render(request, "cases/import_detail.html", context)


@require_POST
@member_required()
def import_retry(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Run a failed import again; it resumes after its last committed chunk."""
    job = import_job_get_for(request.user, pk)
    try:
        import_job_retry(job=job, actor=request.user)
    except JobNotRetryable as exc:
        messages.error(request, str(exc))
    else:
        job_queued_message(request, job, _("Import #%(id)s is queued again.") % {"id": job.pk})
    return redirect("import_detail", pk=job.pk)


@require_POST
@member_required()
def import_retry_failed_rows(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    """Import the rows this import rejected again, as a new import; a second click (or a
    second tab) lands on the retry the first one made."""
    job = import_job_get_for(request.user, pk)
    try:
        retry, created = import_job_retry_failed_rows(job=job, actor=request.user)
    except ImportRejected as exc:
        messages.error(request, str(exc))
        return redirect("import_detail", pk=job.pk)
    if created:
        job_queued_message(request, retry)
    else:
        messages.info(
            request,
            _("The failed rows were already retried as import #%(id)s.") % {"id": retry.pk},
        )
    return redirect("import_detail", pk=retry.pk)


class _Echo:
    """A file-like object whose write returns the line, for streaming csv.writer output."""

    def write(self, value: str) -> str:
        return value


def _safe_cell(value: object) -> object:
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _report_lines(job: ImportJob) -> Iterator[str]:
    writer = csv.writer(_Echo())
    yield writer.writerow(["row", "outcome", "finding_id", "column", "url", "reason"])
    rows = job.report_rows.order_by("row", "pk").defer("raw")
    for entry in rows.iterator(chunk_size=5000):
        # The reason in the reader's language, like the page.
        yield writer.writerow(
            [
                entry.row,
                entry.outcome,
                entry.finding_id or "",
                entry.column or "",
                _safe_cell(entry.url),
                _safe_cell(entry.reason),
            ]
        )


@require_GET
@member_required()
def import_report(request: HtmxHttpRequest, pk: int) -> StreamingHttpResponse:
    job = import_job_get_for(request.user, pk)
    response = StreamingHttpResponse(_report_lines(job), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-report.csv"'
    return response
