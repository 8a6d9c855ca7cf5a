"""Writes of the detection app: register detectors, request and execute runs, record reviews.

Web processes import this module but never torch: the pipeline and the model registry's
loader are imported inside detection_run_execute, which only the detection worker calls."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.evidence.models import CustodyAction, Evidence, EvidenceKind
from cases.kernel.actor import Actor, actor_label, actor_user
from cases.kernel.audit.services import audit_record
from cases.kernel.media import media_suffix
from cases.kernel.models import Agency
from detection.models import (
    FINISHED_STATUSES,
    DetectionReview,
    DetectionRun,
    DetectionStatus,
    DetectorVersion,
    ReviewVerdict,
)
from detection.provenance import (
    c2pa_manifest_absent,
    provenance_signals,
    provenance_unavailable,
)

log = logging.getLogger(__name__)


NO_DETECTOR_MESSAGE = "no trained detector installed"
# Evidence kinds analysed automatically on arrival. Page screenshots, HTML, WARC and headers
# are records of a page, not the suspect media; reference media is the artist's own.
AUTO_DETECT_KINDS = frozenset({EvidenceKind.MEDIA, EvidenceKind.UPLOAD})
ENQUEUE_CHUNK = 500


class DetectionError(ValueError):
    """A detection request that cannot be honoured; the message is for the user."""


class DetectorRegistrationError(ValueError):
    """A model card that cannot be registered (missing file, hash mismatch, conflict)."""


def detectable(evidence: Evidence) -> bool:
    return evidence.media_type.startswith(("image/", "video/"))


# ---------------------------------------------------------------------------- detectors


def detector_register(
    *, card_path: str | Path, activate: bool = True, force: bool = False
) -> DetectorVersion:
    """Register the detector a model card describes, after checking that the checkpoint on
    disk has the SHA-256 the card states, and evaluate its quality gates (detection.gates,
    thresholds from settings); the results are stored on the version's card.

    A model that fails a gate is refused unless `force`, and then registered inactive with
    its failures on its card: it is never activated, whatever `activate` says (the caller
    reads `version.active`). A legacy model (Meso-4) is registered inactive, without `force`.
    Activating a version deactivates the other versions of the same key. Registering the
    same (key, version, hash) again refreshes the card and re-evaluates the gates."""
    from detection.gates import gates_report
    from detection.registry import sha256_file, spec_from_card
    from detection.statements import gate_thresholds

    card_path = Path(card_path)
    if not card_path.is_file():
        raise DetectorRegistrationError(f"model card not found: {card_path}")
    spec = spec_from_card(card_path)
    checkpoint = Path(spec.checkpoint_path)
    if not checkpoint.is_file():
        raise DetectorRegistrationError(f"checkpoint not found: {checkpoint}")
    actual = sha256_file(checkpoint)
    if actual != spec.checkpoint_sha256:
        raise DetectorRegistrationError(
            f"checkpoint {checkpoint} has SHA-256 {actual}, but the model card says "
            f"{spec.checkpoint_sha256}: refusing to register it"
        )
    card = _card_dict(spec)
    card["gates"] = gates_report(card, gate_thresholds())
    passed = bool(card["gates"]["passed"])
    if not passed and not spec.legacy and not force:
        raise DetectorRegistrationError(
            f"{spec.key} {spec.version} fails its quality gates "
            f"({gate_failure_text(card['gates'])}): not registered. Pass --force to register "
            "it inactive with the failures on its card (it can never be activated)."
        )
    activate = activate and passed and not spec.legacy
    with transaction.atomic():
        version = (
            DetectorVersion.objects.select_for_update()
            .filter(key=spec.key, version=spec.version)
            .first()
        )
        if version is not None and version.checkpoint_sha256 != spec.checkpoint_sha256:
            raise DetectorRegistrationError(
                f"{spec.key} {spec.version} is already registered with another checkpoint "
                f"({version.checkpoint_sha256[:12]}…): give the new one a new version"
            )
        if activate:
            DetectorVersion.objects.filter(key=spec.key, active=True).exclude(
                pk=version.pk if version else None
            ).update(active=False)
        if version is None:
            version = DetectorVersion(key=spec.key, version=spec.version)
        version.architecture = spec.architecture
        version.checkpoint_path = str(checkpoint)
        version.checkpoint_sha256 = spec.checkpoint_sha256
        version.card_path = str(card_path.resolve())
        version.card = card
        version.legacy = spec.legacy
        version.gates_passed = passed
        # A refreshed card that now fails (stricter thresholds) takes the version out of use.
        version.active = (activate or version.active) and passed and not spec.legacy
        version.save()
    log.info(
        "registered detector %s %s (%s), gates %s",
        spec.key,
        spec.version,
        spec.checkpoint_sha256,
        "passed" if passed else "failed: " + gate_failure_text(card["gates"]),
    )
    return version


def gate_failure_text(gates: dict[str, Any]) -> str:
    """ "score_spread 0.0 (needs > 0.01), ..." for a gates report; "" when all passed."""
    parts = []
    for result in gates.get("results") or []:
        if not result.get("passed"):
            value = result.get("value")
            shown = "not measured" if value is None else f"{value:.4g}"
            parts.append(f"{result['name']} {shown} (needs {result['threshold']})")
    return ", ".join(parts)


def _card_dict(spec: Any) -> dict[str, Any]:
    """The card as stored on the version: the spec with its absolute checkpoint path, so
    loading later never depends on the card file still being where it was."""
    return json.loads(json.dumps(spec.to_card(), default=str))


def detector_active() -> DetectorVersion | None:
    """The detector new runs use: DETECTION_DETECTOR_KEY's active version when that setting
    names one, else the most recently registered active version. Active implies gate-passing
    and not legacy (a database constraint), so a legacy model is never picked."""
    active = DetectorVersion.objects.filter(active=True, gates_passed=True, legacy=False)
    key = getattr(settings, "DETECTION_DETECTOR_KEY", "")
    if key:
        active = active.filter(key=key)
    return active.order_by("-registered_at", "-id").first()


class DetectorActivationError(DetectorRegistrationError):
    """Activation refused: the model is legacy or fails its quality gates."""


def detector_activate(*, version: DetectorVersion) -> DetectorVersion:
    """Make a registered version the one its key uses, after re-evaluating its gates against
    today's thresholds (stored on its card). A legacy or gate-failing model is refused: the
    same rule as registration, the admin and the database constraint."""
    from detection.gates import gates_report
    from detection.statements import gate_thresholds

    refusal = ""
    with transaction.atomic():
        version = DetectorVersion.objects.select_for_update().get(pk=version.pk)
        card = dict(version.card or {})
        card["gates"] = gates_report(card, gate_thresholds())
        version.card = card
        version.gates_passed = bool(card["gates"]["passed"])
        if version.legacy or not version.gates_passed:
            # The fresh gate results stay on the card (committed), the refusal follows.
            version.active = False
            refusal = (
                "it is a legacy model"
                if version.legacy
                else f"it fails its quality gates ({gate_failure_text(card['gates'])})"
            )
        else:
            DetectorVersion.objects.filter(key=version.key, active=True).exclude(
                pk=version.pk
            ).update(active=False)
            version.active = True
        version.save(update_fields=["card", "gates_passed", "active"])
    if refusal:
        raise DetectorActivationError(f"{version} cannot be activated: {refusal}")
    return version


def detector_deactivate(*, version: DetectorVersion) -> DetectorVersion:
    version.active = False
    version.save(update_fields=["active"])
    return version


# ---------------------------------------------------------------------------- requesting runs


def _enqueue(run_ids: Sequence[int]) -> None:
    from detection.tasks import detection_run_task

    for run_id in run_ids:
        detection_run_task.delay(run_id=run_id)


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
        transaction.on_commit(partial(_enqueue, [run.pk]))
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
        transaction.on_commit(partial(_enqueue_in_chunks, run_ids))
    return len(run_ids)


def _enqueue_in_chunks(run_ids: list[int]) -> None:
    for start in range(0, len(run_ids), ENQUEUE_CHUNK):
        _enqueue(run_ids[start : start + ENQUEUE_CHUNK])


# ---------------------------------------------------------------------------- executing runs


def _progress(run: DetectionRun, progress: int, step: str) -> None:
    run.progress, run.step = progress, step
    DetectionRun.objects.filter(pk=run.pk).update(progress=progress, step=step)


def _claim(run_id: int) -> DetectionRun | None:
    """Mark the run running, unless it already finished (a redelivered message: acks_late)."""
    with transaction.atomic():
        run = (
            DetectionRun.objects.select_for_update()
            .select_related("evidence", "evidence__agency")
            .filter(pk=run_id)
            .first()
        )
        if run is None or run.status in FINISHED_STATUSES:
            return None
        run.status = DetectionStatus.RUNNING
        run.started_at = timezone.now()
        run.progress, run.step = 5, "starting"
        run.save(update_fields=["status", "started_at", "progress", "step"])
    return run


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
    from cases.evidence.services.evidence import evidence_open

    with evidence_open(evidence) as handle:
        return handle.read()


def _load_detector(version: DetectorVersion) -> Any:
    """The loaded model of a registered version, from the card stored at registration. The
    registry verifies the checkpoint's SHA-256 before loading and refuses on mismatch."""
    from detection.registry import load_detector, spec_from_dict

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
    worker goes on to the next message."""
    run = _claim(run_id)
    if run is None:
        return None
    started = time.perf_counter()
    fields: dict[str, Any] = {}
    try:
        fields = _analyse(run)
    except Exception as exc:
        log.exception("detection run %s failed", run.pk)
        fields = {
            "status": DetectionStatus.FAILED,
            "message": _short(f"{type(exc).__name__}: {exc}"),
            "error": _short(f"{type(exc).__name__}: {exc}", 4000),
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
                "error": _short(f"{type(exc).__name__}: {exc}", 4000),
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
        or (version.checkpoint_sha256 if loaded is not None else ""),
    }


def _finish(run: DetectionRun, fields: dict[str, Any]) -> DetectionRun:
    for name, value in fields.items():
        setattr(run, name, value)
    run.progress, run.step, run.finished_at = 100, "finished", timezone.now()
    if run.status != DetectionStatus.DONE or run.detector_version_id is None:
        run.item_probability = None
    if run.item_probability is None:
        run.score_calibrated = False
    update = [
        "status",
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
        "error",
        "detector_version",
        "progress",
        "step",
        "finished_at",
    ]
    evidence = run.evidence
    with transaction.atomic():
        run.save(update_fields=update)
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


def detection_run_fail_stale(*, older_than_minutes: int = 90) -> int:
    """Runs left "running" by a worker that died for good are marked failed (not retried:
    a file that kills the worker would otherwise kill the next one too)."""
    cutoff = timezone.now() - timedelta(minutes=older_than_minutes)
    return DetectionRun.objects.filter(
        status=DetectionStatus.RUNNING, started_at__lt=cutoff
    ).update(
        status=DetectionStatus.FAILED,
        message="the worker stopped before finishing this run",
        progress=100,
        finished_at=timezone.now(),
    )


# ---------------------------------------------------------------------------- reviews


def detection_review_record(
    *,
    evidence: Evidence,
    verdict: str,
    actor: Actor,
    note: str = "",
    run: DetectionRun | None = None,
) -> DetectionReview:
    """Record a person's verdict (the latest one is THE verdict), with an audit event."""
    if verdict not in ReviewVerdict.values:
        raise DetectionError(_("Choose confirmed fake, not fake or unsure."))
    if run is not None and run.evidence_id != evidence.pk:
        raise DetectionError(_("That detection run belongs to another evidence item."))
    reviewer = actor_user(actor)
    with transaction.atomic():
        review = DetectionReview.objects.create(
            agency_id=evidence.agency_id,
            evidence=evidence,
            run=run,
            verdict=verdict,
            reviewer=reviewer,
            reviewer_label=actor_label(actor),
            note=note.strip()[:2000],
        )
        audit_record(
            agency=evidence.agency,
            actor=actor,
            action="detection.reviewed",
            obj=evidence,
            data={
                "review": review.pk,
                "verdict": verdict,
                "note": review.note,
                "run": run.pk if run else None,
                "item_probability": run.item_probability if run else None,
                "detector": str(run.detector_version) if run and run.detector_version_id else None,
            },
        )
    return review


# ---------------------------------------------------------------------------- export


def detection_training_export(
    *, agency: Agency, out_dir: str | Path, actor: Actor = None
) -> dict[str, Any]:
    """Write the agency's reviewed images as a train_detector folder: confirmed fakes under
    fake/, not-fake under real/ (unsure and videos left out), with manifest.jsonl (sha256,
    evidence, finding, verdict, reviewer). Each exported item gets a custody event
    "exported"; one audit event records the export as a whole."""
    import json

    from cases.evidence.services.evidence import custody_record
    from detection.selectors import latest_verdicts_for_agency

    out = Path(out_dir)
    (out / "fake").mkdir(parents=True, exist_ok=True)
    (out / "real").mkdir(parents=True, exist_ok=True)
    folder = {ReviewVerdict.CONFIRMED_FAKE: "fake", ReviewVerdict.NOT_FAKE: "real"}
    counts = {"fake": 0, "real": 0}
    written: list[dict[str, Any]] = []
    reviews = latest_verdicts_for_agency(agency)
    for review in reviews:
        evidence = review.evidence
        label = folder.get(review.verdict)
        if label is None or not evidence.media_type.startswith("image/"):
            continue
        suffix = media_suffix(evidence.media_type, default=".bin")
        name = f"{evidence.sha256}{suffix}"
        target = out / label / name
        if not target.exists():
            target.write_bytes(_read_evidence(evidence))
        counts[label] += 1
        written.append(
            {
                "file": f"{label}/{name}",
                "sha256": evidence.sha256,
                "evidence": evidence.pk,
                "finding": evidence.finding_id,
                "verdict": review.verdict,
                "reviewer": review.reviewer_label,
                "reviewed_at": review.created_at.isoformat(),
            }
        )
    manifest = out / "manifest.jsonl"
    manifest.write_text(
        "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in written), encoding="utf-8"
    )
    with transaction.atomic():
        for row, review in _pairs(written, reviews):
            custody_record(
                evidence=review.evidence,
                action=CustodyAction.EXPORTED,
                actor=actor,
                reason=f"training set export: {row['file']}",
            )
        audit_record(
            agency=agency,
            actor=actor,
            action="detection.training_exported",
            data={"fake": counts["fake"], "real": counts["real"], "folder": out.name},
        )
    return {"fake": counts["fake"], "real": counts["real"], "manifest": str(manifest)}


def _pairs(
    rows: list[dict[str, Any]], reviews: Iterable[DetectionReview]
) -> list[tuple[dict[str, Any], DetectionReview]]:
    by_evidence = {review.evidence_id: review for review in reviews}
    return [(row, by_evidence[row["evidence"]]) for row in rows]
