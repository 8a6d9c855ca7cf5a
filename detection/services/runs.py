"""Detection runs, the requesting side: queue a run of one item or of every item, and
retry a failed run. A run is a job of the one job runner (cases.kernel.jobs); the worker's
side is detection.services.analysis."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from django.db import transaction
from django.db.models import Q
from django.utils.translation import gettext as _

from cases.evidence.models import Evidence, EvidenceKind
from cases.kernel.actor import Actor, actor_user
from cases.kernel.audit.services import audit_record
from cases.kernel.jobs import JobNotRetryable, job_retry
from cases.kernel.models import Agency
from cases.kernel.outbox import outbox_enqueue_many
from detection.models import DetectionRun, DetectionStatus
from detection.services.detectors import detector_active

log = logging.getLogger(__name__)


# Evidence kinds analysed automatically on arrival. Page screenshots, HTML, WARC and headers
# are records of a page, not the suspect media; reference media is the artist's own.
AUTO_DETECT_KINDS = frozenset({EvidenceKind.MEDIA, EvidenceKind.UPLOAD})
ENQUEUE_CHUNK = 500


class DetectionError(ValueError):
    """A detection request that cannot be honoured; the message is for the user."""


def detectable(evidence: Evidence) -> bool:
    return evidence.media_type.startswith(("image/", "video/"))


def _enqueue(run_ids: Sequence[int]) -> None:
    """Queue the runs' tasks through the outbox, in the caller's transaction."""
    outbox_enqueue_many(DetectionRun.job_task, [{DetectionRun.job_task_arg: pk} for pk in run_ids])


def detection_run_request(*, evidence: Evidence, actor: Actor = None) -> DetectionRun:
    """Queue a detection run of one image or video; the task is sent after commit. A run
    that is still queued for the item is returned instead of queueing a second one."""
    if not detectable(evidence):
        raise DetectionError(
            _("Detection runs on images and videos only; this file is %(type)s.")
            % {"type": evidence.media_type or _("of unknown type")}
        )
    with transaction.atomic():
        pending = (
            DetectionRun.objects.filter(evidence=evidence, status=DetectionStatus.QUEUED)
            .order_by("-created_at")
            .first()
        )
        if pending is not None:
            return pending
        run = DetectionRun.objects.create(
            agency_id=evidence.agency_id,
            evidence=evidence,
            requested_by=actor_user(actor),
            step="queued",
        )
        if actor is not None:
            audit_record(
                agency=evidence.agency,
                actor=actor,
                action="detection.requested",
                obj=evidence,
                data={"run": run.pk, "sha256": evidence.sha256},
            )
        _enqueue([run.pk])
    return run


def detection_on_new_evidence(evidence: Evidence) -> DetectionRun | None:
    """Called for every new Evidence row (post_save in detection.apps): queue detection of
    suspect images and videos. Runs inside the ingest's transaction, in a savepoint, so a
    failure here never loses the evidence itself."""
    if evidence.kind not in AUTO_DETECT_KINDS or not detectable(evidence):
        return None
    try:
        with transaction.atomic():
            return detection_run_request(evidence=evidence)
    except Exception:
        log.exception("could not queue detection of evidence %s", evidence.pk)
        return None


def detection_rerun_all(*, agency: Agency, actor: Actor) -> int:
    """Queue a new run for every image and video of the agency (after a new detector version
    is registered). One bulk insert, one audit event, and one after-commit callback that
    sends the tasks in chunks. Items that already have a queued run are skipped."""
    already_queued = DetectionRun.objects.filter(
        agency=agency, status=DetectionStatus.QUEUED
    ).values("evidence_id")
    evidence_ids = list(
        Evidence.objects.filter(agency=agency)
        .filter(Q(media_type__startswith="image/") | Q(media_type__startswith="video/"))
        .exclude(pk__in=already_queued)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if not evidence_ids:
        return 0
    detector = detector_active()
    with transaction.atomic():
        runs = DetectionRun.objects.bulk_create(
            [
                DetectionRun(
                    agency=agency,
                    evidence_id=evidence_id,
                    requested_by=actor_user(actor),
                    step="queued",
                )
                for evidence_id in evidence_ids
            ],
            batch_size=1000,
        )
        run_ids = [run.pk for run in runs]
        if any(pk is None for pk in run_ids):  # a backend without RETURNING
            run_ids = list(
                DetectionRun.objects.filter(
                    agency=agency, status=DetectionStatus.QUEUED, evidence_id__in=evidence_ids
                ).values_list("pk", flat=True)
            )
        audit_record(
            agency=agency,
            actor=actor,
            action="detection.rerun_all",
            data={
                "runs": len(run_ids),
                "detector": f"{detector.key} {detector.version}" if detector else None,
            },
        )
        _enqueue_in_chunks(run_ids)
    return len(run_ids)


def _enqueue_in_chunks(run_ids: list[int]) -> None:
    for start in range(0, len(run_ids), ENQUEUE_CHUNK):
        _enqueue(run_ids[start : start + ENQUEUE_CHUNK])


def detection_run_retry(*, run: DetectionRun, actor: Actor) -> DetectionRun:
    """Run a failed run again, on the same row: back to queued (audited as
    "detection.retried" with the error it had), the task sent after commit. The failed
    attempt's message, timings and progress are cleared so the panel shows a queued run.
    Only "failed" is retried; a run that ended in what it found (no faces, a file that
    cannot be decoded, a model error) is re-run instead. The caller checks that `actor`
    may write."""
    with transaction.atomic():
        try:
            job_retry(job=run, actor=actor)
        except JobNotRetryable as exc:
            raise DetectionError(_("Only a failed detection run can be retried.")) from exc
        run.message, run.timings, run.progress = "", {}, 0
        DetectionRun.objects.filter(pk=run.pk).update(message="", timings={}, progress=0)
    return run
