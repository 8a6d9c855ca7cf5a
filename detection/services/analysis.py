"""Detection runs, the worker's side: claim a queued run, read the file's provenance
signals, run the active detector, and store what the run produced with the status that says
what happened. The lifecycle (claim, heartbeat, finish, the stale sweep) is the one job
runner's (cases.kernel.jobs); only the detection worker calls detection_run_execute, and
only it imports the pipeline (torch)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction

from cases.evidence.models import Evidence
from cases.evidence.services.evidence import evidence_open
from cases.kernel.audit.services import audit_record
from cases.kernel.jobs import ERROR_MAX_CHARS, job_claim, job_finish, job_progress
from detection.models import DetectionRun, DetectionStatus, DetectorVersion
from detection.provenance import (
    c2pa_manifest_absent,
    provenance_signals,
    provenance_unavailable,
)
from detection.registry import load_detector, spec_from_dict
from detection.services.detectors import DetectorRegistrationError, detector_active
from detection.services.runs import detectable

log = logging.getLogger(__name__)

NO_DETECTOR_MESSAGE = "no trained detector installed"
# What a finished run stores besides the lifecycle columns (job_finish saves those).
RESULT_FIELDS = (
    "message",
    "item_probability",
    "score_calibrated",
    "faces",
    "provenance",
    "device",
    "timings",
    "frames_analyzed",
    "details",
    "checkpoint_sha256",
    "detector_version",
)


def _progress(run: DetectionRun, percent: int, step: str) -> None:
    job_progress(job=run, percent=percent, step=step)


def trust_anchors_pem() -> str | None:
    """The PEM bundle of C2PA trust anchors named by settings.C2PA_TRUST_ANCHORS_PEM."""
    path = getattr(settings, "C2PA_TRUST_ANCHORS_PEM", "")
    if not path:
        return None
    try:
        return Path(path).read_text(encoding="utf-8")
    except OSError:
        log.error("C2PA_TRUST_ANCHORS_PEM=%s cannot be read; no signer is trusted", path)
        return None


def _read_evidence(evidence: Evidence) -> bytes:

    with evidence_open(evidence) as handle:
        return handle.read()


def _load_detector(version: DetectorVersion) -> Any:
    """The loaded model of a registered version, from the card stored at registration. The
    registry verifies the checkpoint's SHA-256 before loading and refuses on mismatch."""

    spec = spec_from_dict(version.card)
    if spec.checkpoint_sha256 != version.checkpoint_sha256:
        raise DetectorRegistrationError(
            f"the stored card of {version} names checkpoint {spec.checkpoint_sha256[:12]}…, "
            f"not the registered {version.checkpoint_sha256[:12]}…"
        )
    return load_detector(spec)


def detection_run_execute(*, run_id: int) -> DetectionRun | None:
    """Run detection for one queued run and store everything it produced. Never raises for
    a bad file or a bad model: the run ends in a status that says what happened, and the
    worker goes on to the next message. Returns None for a finished run (a redelivered
    message); raises JobBusy while another worker has the run, and lets the task's soft
    time limit through, so that the job runner fails the run saying so."""
    run = job_claim(
        model=DetectionRun, pk=run_id, related=("evidence", "evidence__agency"), step="starting"
    )
    if run is None:
        return None
    _progress(run, 5, "starting")
    started = time.perf_counter()
    fields: dict[str, Any] = {}
    try:
        fields = _analyse(run)
    except SoftTimeLimitExceeded:
        raise
    except Exception as exc:
        log.exception("detection run %s failed", run.pk)
        fields = {
            "status": DetectionStatus.FAILED,
            "message": _short(f"{type(exc).__name__}: {exc}"),
            "error": _short(f"{type(exc).__name__}: {exc}", ERROR_MAX_CHARS),
            "item_probability": None,
        }
    fields.setdefault("timings", {})
    fields["timings"] = {
        **fields["timings"],
        "run_total": round((time.perf_counter() - started) * 1000, 1),
    }
    return _finish(run, fields)


def _short(text: str, limit: int = 500) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _analyse(run: DetectionRun) -> dict[str, Any]:
    evidence = run.evidence
    if not detectable(evidence):
        return {
            "status": DetectionStatus.UNSUPPORTED,
            "message": f"detection runs on images and videos only, not {evidence.media_type or 'unknown type'}",
        }
    max_bytes = getattr(settings, "DETECTION_MAX_BYTES", 1024 * 1024 * 1024)
    if evidence.size > max_bytes:
        return {
            "status": DetectionStatus.UNSUPPORTED,
            "message": f"file of {evidence.size} bytes is larger than the detection limit of {max_bytes} bytes",
        }
    _progress(run, 10, "reading the file")
    data = _read_evidence(evidence)
    _progress(run, 20, "reading provenance signals")
    t0 = time.perf_counter()
    signals = provenance_signals(data, evidence.media_type, trust_anchors_pem=trust_anchors_pem())
    provenance_ms = round((time.perf_counter() - t0) * 1000, 1)
    fields: dict[str, Any] = {
        "provenance": [signal.to_dict() for signal in signals],
        "details": {
            "provenance_unavailable": provenance_unavailable(),
            "c2pa_manifest_absent": c2pa_manifest_absent(data, evidence.media_type, signals),
        },
    }

    version = detector_active()
    loaded = None
    if version is not None:
        _progress(run, 35, "loading the detector")
        fields["detector_version"] = version
        try:
            loaded = _load_detector(version)
        except SoftTimeLimitExceeded:
            raise
        except Exception as exc:
            reason = (
                "checkpoint hash mismatch: refusing to load"
                if "Checksum" in type(exc).__name__
                else "the detector could not be loaded"
            )
            return {
                **fields,
                "status": DetectionStatus.MODEL_ERROR,
                "message": _short(f"{reason}: {exc}"),
                "error": _short(f"{type(exc).__name__}: {exc}", ERROR_MAX_CHARS),
                "timings": {"provenance": provenance_ms},
            }

    _progress(run, 50, "analysing faces" if loaded is not None else "finding faces")
    try:
        from detection.pipeline import analyze
    except ImportError as exc:
        if loaded is not None:
            raise
        # A host without the detection extra still records provenance honestly.
        return {
            **fields,
            "status": DetectionStatus.NO_DETECTOR,
            "message": NO_DETECTOR_MESSAGE,
            "error": f"detection pipeline unavailable: {exc}",
            "timings": {"provenance": provenance_ms},
        }
    result = analyze(data, detector=loaded, media_type=evidence.media_type)
    status = DetectionStatus.DONE if result.status == "ok" else result.status
    if status not in DetectionStatus.values:
        status = DetectionStatus.FAILED
    probability = result.item_probability if status == DetectionStatus.DONE else None
    if probability is not None and not (0.0 <= float(probability) <= 1.0):
        status, probability = DetectionStatus.MODEL_ERROR, None
        result.message = "the model returned a probability outside [0, 1]"
    if loaded is None:
        # No detector, no number: whatever the pipeline says.
        probability = None
        if status == DetectionStatus.DONE:
            status = DetectionStatus.NO_DETECTOR
    data_dict = result.to_dict()
    return {
        **fields,
        "status": status,
        "message": result.message
        or (NO_DETECTOR_MESSAGE if status == DetectionStatus.NO_DETECTOR else ""),
        "item_probability": probability,
        # What the numbers went through, as the pipeline applied the card's calibration.
        "score_calibrated": bool(probability is not None and result.score_calibrated),
        "faces": data_dict.get("faces") or [],
        "device": result.device or "",
        "timings": {**(result.timings or {}), "provenance": provenance_ms},
        "frames_analyzed": result.frames_analyzed,
        "details": {
            **fields["details"],
            **{
                key: data_dict.get(key)
                for key in (
                    "precision",
                    "media_kind",
                    "width",
                    "height",
                    "faces_found",
                    "faces_skipped",
                    "aggregation",
                    "warnings",
                    "frame_times",
                )
            },
        },
        "checkpoint_sha256": result.checkpoint_sha256
        or (version.checkpoint_sha256 if loaded is not None and version is not None else ""),
    }


def _finish(run: DetectionRun, fields: dict[str, Any]) -> DetectionRun | None:
    """Store the run's results and end it (job_finish: progress 100), with its audit event,
    under the row lock. A run that is no longer running (the sweep failed it meanwhile)
    keeps what the sweep wrote."""
    status, error = fields.pop("status"), fields.pop("error", "")
    if status not in DetectionRun.job_finished_statuses:
        status = DetectionStatus.FAILED
    for name, value in fields.items():
        setattr(run, name, value)
    if status != DetectionStatus.DONE or run.detector_version_id is None:
        run.item_probability = None
    if run.item_probability is None:
        run.score_calibrated = False
    evidence = run.evidence
    with transaction.atomic():
        running = (
            DetectionRun.objects.select_for_update()
            .filter(pk=run.pk, status=DetectionStatus.RUNNING)
            .exists()
        )
        if not running:
            log.warning("detection run %s is no longer running; its result is dropped", run.pk)
            return None
        job_finish(
            job=run, status=status, step="finished", error=error, update_fields=RESULT_FIELDS
        )
        audit_record(
            agency=evidence.agency,
            actor=None,
            action="detection.finished",
            obj=evidence,
            data={
                "run": run.pk,
                "status": run.status,
                "item_probability": run.item_probability,
                "score_calibrated": run.score_calibrated,
                "detector": str(run.detector_version) if run.detector_version_id else None,
                "checkpoint_sha256": run.checkpoint_sha256 or None,
                "faces": len(run.faces or []),
                "provenance": [
                    f"{signal.get('kind')}:{signal.get('strength')}"
                    for signal in run.provenance or []
                ],
            },
        )
    return run
