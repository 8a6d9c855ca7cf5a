"""Writes of the reports app: request a dossier, packet or annex; build it (in the `reports`
Celery queue); record downloads. Every export and download is written to each contained
item's custody log and to the audit trail.

Who may do what (views check it, and dossier_request checks it again):
- legal staff and admins generate and download dossiers, packets and annexes;
- viewers see the list of generated files on the case page and nothing more: a dossier
  names collectors, IP addresses and custody details, and a packet holds the unblurred
  originals, both of which are legal-staff material like evidence downloads;
- an annex (unblurred previews) needs a reason, names its items explicitly, and is never
  part of the dossier or the packet;
- a failed dossier can be retried by those who may generate it.

A dossier is a job of the one job runner (cases.kernel.jobs): claim, progress (the
heartbeat), finish, fail, the stale sweep and retry are the kernel's."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import resource
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from cases.evidence.models import CustodyAction, Evidence
from cases.evidence.services.evidence import custody_record_many
from cases.kernel.actor import Actor, actor_label, actor_user
from cases.kernel.audit.services import audit_anchor, audit_record
from cases.kernel.jobs import (
    JobNotRetryable,
    job_claim,
    job_fail,
    job_finish,
    job_progress,
    job_retry,
)
from cases.kernel.models import Membership, Role
from cases.kernel.outbox import outbox_enqueue
from cases.kernel.times import agency_zone
from cases.legal.models import Case
from reports.context import DossierContext, dossier_context_build
from reports.models import Dossier, DossierKind, DossierStatus

log = logging.getLogger(__name__)
WRITER_ROLES = (Role.ADMIN, Role.LEGAL)
REASON_MAX = 1000
# What a finished dossier stores besides the lifecycle columns (job_finish saves those).
RESULT_FIELDS = (
    "pdf_name",
    "pdf_sha256",
    "pdf_size",
    "zip_name",
    "zip_sha256",
    "zip_size",
    "evidence_hashes",
    "timestamped",
    "signed",
)


class DossierRefused(Exception):
    """A request that must not run; `message` is shown to the user."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MemoryLimitExceeded(Exception):
    pass


# ---------------------------------------------------------------------------- request


def _require_writer(case: Case, actor: Actor) -> Membership:
    user = actor_user(actor)
    membership = (
        Membership.objects.select_related("agency").filter(user=user).first()
        if user is not None
        else None
    )
    if membership is None or membership.agency_id != case.agency_id:
        raise DossierRefused(_("This case does not exist."))
    if membership.role not in WRITER_ROLES:
        raise DossierRefused(_("Only legal staff and admins can generate dossiers."))
    return membership


def annex_candidates(case: Case) -> list[Evidence]:
    """Evidence items of the case that have an image an annex can show unblurred: evidence
    of content only, never a file of a failed or refused capture attempt."""
    # Lazy like _preview_source: the previews module is patched per test (tests/reports).
    from cases.evidence.previews import has_image_preview
    from reports.attempts import content_evidence_ids

    items = Evidence.objects.filter(pk__in=content_evidence_ids(case)).order_by(
        "finding_id", "collected_at", "id"
    )
    return [evidence for evidence in items if has_image_preview(evidence)]


def dossier_request(
    *,
    case: Case,
    kind: str,
    actor: Actor,
    language: str = "en",
    reason: str = "",
    evidence_ids: list[int] | None = None,
) -> Dossier:
    """Queue a dossier (PDF), a packet (PDF + ZIP) or an annex (unblurred PDF of the named
    items, reason required). Raises DossierRefused with a message for the user."""
    _require_writer(case, actor)
    if kind not in DossierKind.values:
        raise DossierRefused(_("Unknown kind of dossier."))
    reason = reason.strip()[:REASON_MAX]
    requested: list[int] = []
    if kind == DossierKind.ANNEX:
        if not reason:
            raise DossierRefused(_("Say why the unblurred annex is needed."))
        allowed = {evidence.pk for evidence in annex_candidates(case)}
        requested = sorted(set(evidence_ids or []))
        if not requested:
            raise DossierRefused(_("Choose the evidence items the annex must show."))
        if not set(requested) <= allowed:
            raise DossierRefused(_("Some chosen items are not image evidence of this case."))
    if language not in {code for code, _label in settings.LANGUAGES}:
        language = settings.LANGUAGE_CODE
    with transaction.atomic():
        dossier = Dossier.objects.create(
            agency_id=case.agency_id,
            case=case,
            kind=kind,
            reason=reason,
            requested_ids=requested,
            language=language,
            generated_by=actor_user(actor),
            generated_by_label=actor_label(actor),
            step=_("Waiting for a worker"),
        )
        audit_record(
            agency=case.agency,
            actor=actor,
            action="dossier.requested",
            obj=dossier,
            data={"case": case.pk, "kind": kind, "reason": reason, "evidence": requested},
        )
        _enqueue(dossier.pk)
    return dossier


def _enqueue(dossier_id: int) -> None:
    """Queue the build through the outbox, in the caller's transaction."""
    outbox_enqueue(Dossier.job_task, **{Dossier.job_task_arg: dossier_id})


def dossier_retry(*, dossier: Dossier, actor: Actor) -> Dossier:
    """Build a failed dossier again, on the same row (same identifier, same request): back
    to queued, audited as "dossier.retried" with the error it had, the task sent after
    commit. Only those who may generate dossiers may retry one; only a failed one can be."""
    _require_writer(dossier.case, actor)
    with transaction.atomic():
        try:
            job_retry(job=dossier, actor=actor)
        except JobNotRetryable as exc:
            raise DossierRefused(_("Only a failed dossier can be retried.")) from exc
        # The failed attempt's progress is not this attempt's.
        dossier.progress, dossier.step = 0, _("Waiting for a worker")
        Dossier.objects.filter(pk=dossier.pk).update(progress=0, step=dossier.step)
    return dossier


# ---------------------------------------------------------------------------- build


def _vm_bytes() -> int | None:
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pages * os.sysconf("SC_PAGE_SIZE")


@contextlib.contextmanager
def memory_limit(megabytes: int) -> Iterator[None]:
    """Cap this process's address space at its current size plus `megabytes` while the
    block runs (a runaway render then gets MemoryError instead of taking the machine
    down), and restore the previous limit afterwards, so the same worker can go on to
    run other tasks. A no-op where /proc or RLIMIT_AS is missing, or with 0."""
    current = _vm_bytes()
    if megabytes <= 0 or current is None or not hasattr(resource, "RLIMIT_AS"):
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = current + megabytes * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    if soft != resource.RLIM_INFINITY:
        limit = min(limit, soft)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield
    except MemoryError as exc:
        raise MemoryLimitExceeded(
            _("The dossier needed more than %(mb)s MB of memory.") % {"mb": megabytes}
        ) from exc
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _progress(dossier: Dossier, progress: int, step: str) -> None:
    job_progress(job=dossier, percent=progress, step=step)


def _titles(kind: str) -> str:
    if kind == DossierKind.ANNEX:
        return _("Unblurred annex")
    return _("Evidence dossier")


def _preview_source(context: DossierContext, unblurred: bool) -> Any:
    # Looked up at call time so tests can replace revealed_preview (tests/reports/test_safety.py).
    from cases.evidence.previews import blurred_preview, revealed_preview

    by_id = {item.evidence.pk: item.evidence for item in context.items}

    def source(evidence_id: int) -> bytes | None:
        evidence = by_id.get(evidence_id)
        if evidence is None:
            return None
        return revealed_preview(evidence) if unblurred else blurred_preview(evidence)

    return source


def _render(dossier: Dossier, context: DossierContext, unblurred: bool) -> bytes:
    # heavy: WeasyPrint loads only in the reports worker, never in a web process.
    from reports.packet import packet_trust
    from reports.render import dossier_html, fetcher_for, pdf_render

    with agency_zone(dossier.agency):  # a worker has no request that activated it
        html = dossier_html(
            context,
            kind=dossier.kind,
            title=_titles(dossier.kind),
            identifier=dossier.identifier,
            generated_by=dossier.generated_by_label,
            language=dossier.language,
            reason=dossier.reason if dossier.kind == DossierKind.ANNEX else "",
            # What the packet will carry, known before the PDF inside it is rendered.
            trust=packet_trust() if dossier.kind == DossierKind.PACKET else None,
        )
    return pdf_render(html, fetcher=fetcher_for(context, _preview_source(context, unblurred)))


def _store(name: str, content: File[Any]) -> str:
    return default_storage.save(name, content)


def dossier_build(*, dossier_id: int) -> Dossier | None:
    """Build a queued dossier: context, PDF, (packet), storage, custody. Idempotent per
    row: a finished dossier is not built again (None). A failure is recorded on the row
    (job_fail: "dossier.failed" in the audit trail) and not retried by the task: a person
    retries it. The task's soft time limit goes through to the job runner, which fails the
    dossier saying so; JobBusy means another worker is building it."""
    dossier = job_claim(
        model=Dossier,
        pk=dossier_id,
        related=("case", "case__agency", "agency", "generated_by"),
        step=_("Gathering the case record"),
    )
    if dossier is None:
        return None
    try:
        with translation.override(dossier.language), memory_limit(settings.REPORTS_MEMORY_LIMIT_MB):
            _build(dossier)
    except SoftTimeLimitExceeded:
        raise
    except Exception as exc:
        log.exception("dossier #%s failed", dossier.pk)
        message = getattr(exc, "message", None) or str(exc) or exc.__class__.__name__
        return job_fail(model=Dossier, pk=dossier.pk, error=str(message)) or dossier
    return dossier


def _build(dossier: Dossier) -> None:
    from reports.packet import packet_write  # heavy: the PDF renderer, reports worker only

    case = dossier.case
    annex = dossier.kind == DossierKind.ANNEX
    _progress(dossier, 5, _("Gathering the case record"))
    context = dossier_context_build(case, evidence_ids=dossier.requested_ids if annex else None)
    # The audit chain head as of this export, anchored outside the database; the appendix prints it.
    context.audit_anchor = audit_anchor(agency=case.agency, reason=f"dossier {dossier.identifier}")
    if len(context.files) > settings.REPORTS_MAX_ITEMS:
        raise DossierRefused(
            _(
                "This case has %(n)s stored files (evidence and records of capture "
                "attempts); a dossier holds at most %(max)s."
            )
            % {"n": len(context.files), "max": settings.REPORTS_MAX_ITEMS}
        )
    _progress(dossier, 20, _("Rendering the PDF"))
    pdf = _render(dossier, context, unblurred=annex)
    _progress(dossier, 60, _("Storing the PDF"))
    base = f"reports/{dossier.uuid.hex}"
    dossier.pdf_name = _store(f"{base}.pdf", ContentFile(pdf, name="dossier.pdf"))
    dossier.pdf_sha256 = hashlib.sha256(pdf).hexdigest()
    dossier.pdf_size = len(pdf)
    if dossier.kind == DossierKind.PACKET:
        _progress(dossier, 65, _("Writing the evidence packet"))
        with tempfile.TemporaryFile(suffix=".zip") as handle:

            def packet_progress(fraction: float) -> None:
                _progress(dossier, 65 + int(25 * fraction), _("Copying originals into the packet"))

            result = packet_write(
                handle,
                context=context,
                pdf=pdf,
                identifier=dossier.identifier,
                generated_by=dossier.generated_by_label,
                progress=packet_progress,
            )
            handle.seek(0)
            digest, size = hashlib.sha256(), 0
            while chunk := handle.read(1024 * 1024):
                digest.update(chunk)
                size += len(chunk)
            handle.seek(0)
            dossier.zip_name = _store(f"{base}.zip", File(handle, name="packet.zip"))
        dossier.zip_sha256, dossier.zip_size = digest.hexdigest(), size
        dossier.timestamped, dossier.signed = result.timestamped, result.signed
    _progress(dossier, 95, _("Recording custody"))
    evidence = [item.evidence for item in context.files]
    reasons = {
        DossierKind.DOSSIER: "dossier %(id)s (blurred previews and metadata)",
        DossierKind.PACKET: "evidence packet %(id)s (originals)",
        DossierKind.ANNEX: "unblurred annex %(id)s: %(reason)s",
    }
    reason = reasons[DossierKind(dossier.kind)] % {
        "id": dossier.identifier,
        "reason": dossier.reason,
    }
    with transaction.atomic():
        running = (
            Dossier.objects.select_for_update()
            .filter(pk=dossier.pk, status=DossierStatus.RUNNING)
            .exists()
        )
        if not running:
            log.warning("dossier #%s is no longer running; its files are not recorded", dossier.pk)
            return
        custody_record_many(
            agency=dossier.agency,
            evidence=evidence,
            action=CustodyAction.EXPORTED,
            actor=dossier.generated_by,
            reason=reason,
        )
        dossier.evidence_hashes = context.evidence_hashes
        job_finish(job=dossier, step=_("Done"), update_fields=RESULT_FIELDS)
        audit_record(
            agency=dossier.agency,
            actor=dossier.generated_by,
            action="dossier.generated",
            obj=dossier,
            data={
                "case": case.pk,
                "kind": dossier.kind,
                "identifier": dossier.identifier,
                "pdf_sha256": dossier.pdf_sha256,
                "zip_sha256": dossier.zip_sha256,
                "evidence_count": len(evidence),
                "timestamped": dossier.timestamped,
                "signed": dossier.signed,
            },
        )


# ---------------------------------------------------------------------------- download


def dossier_download_record(*, dossier: Dossier, part: str, actor: Actor) -> None:
    """Log a download: one custody event per contained item, and one audit event."""
    evidence = list(
        Evidence.objects.filter(agency_id=dossier.agency_id, sha256__in=dossier.evidence_hashes)
    )
    reason = f"{dossier.kind} {dossier.identifier} downloaded ({part})"
    with transaction.atomic():
        custody_record_many(
            agency=dossier.agency,
            evidence=evidence,
            action=CustodyAction.DOWNLOADED,
            actor=actor,
            reason=reason,
        )
        audit_record(
            agency=dossier.agency,
            actor=actor,
            action="dossier.downloaded",
            obj=dossier,
            data={
                "part": part,
                "kind": dossier.kind,
                "sha256": dossier.zip_sha256 if part == "zip" else dossier.pdf_sha256,
            },
        )


def dossier_open(dossier: Dossier, part: str) -> Any:
    name = dossier.zip_name if part == "zip" else dossier.pdf_name
    return default_storage.open(name, "rb")
