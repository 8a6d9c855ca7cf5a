"""Each stored file of a dossier as plain data (EvidenceItem): where it came from, its
capture record, custody log, latest detection run and review, and what of the Berkeley
Protocol minimum it lacks. reports.context numbers them and gathers the rest of the case."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db.models import Prefetch
from django.urls import reverse
from django.utils.translation import gettext as _

from cases.evidence.models import Capture, CaptureStatus, CustodyAction, CustodyEvent, Evidence
from cases.evidence.previews import has_image_preview
from cases.legal.models import Case
from detection.models import DetectionReview, DetectionRun, DetectionStatus, DetectorVersion
from detection.statements import score_kind_label
from reports.attempts import case_evidence_queryset
from reports.times import utc_and_kst, utc_and_local

# A dossier is for people: past these, the packet's manifest.json has the rest.
MAX_HEADERS_SHOWN = 40
MAX_CUSTODY_SHOWN = 50


@dataclass
class DetectionSummary:
    """The latest detection run of an item, honestly: a number only when a registered
    detector produced it, called a calibrated probability only when the detector's card
    holds a calibration fitted on held-out data (else the model's raw score), a headline
    only from a gate-passing, non-legacy detector, and always with the detector's card,
    measured AUC, caveats and small-sample warning (detection.statements)."""

    status: str
    status_label: str
    probability: float | None = None
    calibrated: bool = False
    score_label: str = ""
    headline: bool = False
    legacy: bool = False
    gates_passed: bool = False
    gates: list[dict[str, Any]] = field(default_factory=list)
    caveats: list[str] = field(default_factory=list)
    small_sample_warning: str = ""
    card_url: str = ""
    auc_ci: list[float] | None = None
    detector: str = ""
    architecture: str = ""
    checkpoint_sha256: str = ""
    auc: float | None = None
    n_eval: int | None = None
    training_data: str = ""
    licence: str = ""
    limits: str = ""
    device: str = ""
    finished_utc: str = ""
    signals: list[dict[str, Any]] = field(default_factory=list)
    no_detector: bool = False
    # The C2PA reader parsed the file and found no manifest (detection run details).
    c2pa_absent: bool = False

    def as_json(self) -> dict[str, Any]:
        has_score = self.probability is not None
        return {
            "status": self.status,
            # Named for what it is: a calibrated probability only with a fitted calibration.
            "score_fake": self.probability,
            "score_kind": (
                ("calibrated_probability" if self.calibrated else "raw_model_score")
                if has_score
                else None
            ),
            "calibrated_probability_fake": self.probability if self.calibrated else None,
            "raw_model_score_fake": self.probability if has_score and not self.calibrated else None,
            "headline_score": self.headline,
            "legacy_model": self.legacy,
            "quality_gates_passed": self.gates_passed,
            "quality_gates": self.gates,
            "caveats": self.caveats,
            "small_sample_warning": self.small_sample_warning or None,
            "model_card_url": self.card_url or None,
            "measured_auc_ci": self.auc_ci,
            "detector": self.detector or None,
            "architecture": self.architecture or None,
            "checkpoint_sha256": self.checkpoint_sha256 or None,
            "measured_auc": self.auc,
            "n_eval": self.n_eval,
            "no_trained_detector": self.no_detector,
            "device": self.device or None,
            "finished_at_utc": self.finished_utc or None,
            "provenance_signals": self.signals,
        }


# What a stored file is in a dossier: evidence of content, or the record of a capture
# attempt that captured nothing (listed under that attempt, never as evidence).
ROLE_EVIDENCE = "evidence"
ROLE_RECORD = "record_of_unsuccessful_attempt"
# Where an evidence item came from: a successful capture, or an upload by a person (or
# another way in without a capture record: a fan report, an import).
ORIGIN_CAPTURE, ORIGIN_UPLOAD, ORIGIN_OTHER = "capture", "upload", "other"


@dataclass
class EvidenceItem:
    """One stored file as the dossier and the manifest describe it. `capture` is the
    capture the item is described from: its first successful one for evidence, the
    unsuccessful attempt for a record, None for an upload."""

    number: int
    evidence: Evidence
    finding_id: int | None
    finding_url: str
    url: str
    final_url: str
    captured_utc: str
    # *_kst: the agency's zone with its label (KST by default; reports.times.utc_and_local).
    captured_kst: str
    collected_utc: str
    collected_kst: str
    collector: str
    tool: str
    tool_version: str
    collector_ip: str
    resolved_ip: str
    http_status: int | None
    headers: list[tuple[str, str]]
    headers_total: int
    has_preview: bool
    detection: DetectionSummary | None
    verdict: DetectionReview | None
    custody: list[CustodyEvent]
    custody_total: int
    missing: list[str]
    hash_at_collection: bool
    role: str = ROLE_EVIDENCE
    origin: str = ORIGIN_CAPTURE
    capture: Capture | None = None
    uploaded_by: str = ""
    # Other successful captures that produced the very same bytes (an unchanged re-check).
    also_captured_by: list[int] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return f"ev-{self.evidence.pk}"

    @property
    def is_record(self) -> bool:
        return self.role == ROLE_RECORD

    @property
    def label(self) -> str:
        """ "3" for evidence item 3, "R2" for the second record of an unsuccessful attempt."""
        return f"R{self.number}" if self.is_record else str(self.number)

    @property
    def capture_status(self) -> str | None:
        return self.capture.status if self.capture is not None else None


def _header_pairs(headers: Any) -> list[tuple[str, str]]:
    if isinstance(headers, dict):
        return [(str(k), str(v)) for k, v in headers.items()]
    if isinstance(headers, list):
        return [(str(pair[0]), str(pair[1])) for pair in headers if len(pair) == 2]
    return []


def detection_summary_build(runs: list[DetectionRun]) -> DetectionSummary | None:
    """The latest run of an item as the dossier states it (None: never analysed)."""
    if not runs:
        return None
    run = runs[0]
    version: DetectorVersion | None = run.detector_version
    summary = DetectionSummary(
        status=run.status,
        status_label=str(run.get_status_display()),
        signals=[s for s in (run.provenance or []) if isinstance(s, dict)],
        c2pa_absent=bool((run.details or {}).get("c2pa_manifest_absent")),
        device=run.device,
        finished_utc=utc_and_kst(run.finished_at)[0],  # the manifest's finished_at_utc
    )
    if version is None or run.status == DetectionStatus.NO_DETECTOR:
        summary.no_detector = True
        return summary
    card = version.card or {}
    training = card.get("training_data") or {}
    summary.detector = f"{version.key} {version.version}"
    summary.architecture = version.architecture
    summary.checkpoint_sha256 = run.checkpoint_sha256 or version.checkpoint_sha256
    summary.auc = version.auc
    summary.n_eval = version.n_eval
    summary.training_data = (
        str(training.get("summary") or training.get("description") or "")
        if isinstance(training, dict)
        else str(training)
    )
    summary.licence = str(card.get("licence") or "")
    summary.limits = str(card.get("limits") or "")
    summary.legacy = version.legacy
    summary.gates_passed = version.gates_passed
    summary.gates = version.gate_results
    summary.caveats = version.caveats
    summary.small_sample_warning = version.small_sample_warning
    summary.card_url = settings.SITE_URL.rstrip("/") + reverse("detector_detail", args=[version.pk])
    ci = version.metrics.get("auc_ci")
    summary.auc_ci = list(ci) if isinstance(ci, list | tuple) and len(ci) == 2 else None
    # Only a finished run of a registered detector carries a number (a DB constraint too).
    if run.status == DetectionStatus.DONE and run.item_probability is not None:
        summary.probability = run.item_probability
        summary.calibrated = run.score_calibrated
        summary.score_label = score_kind_label(run.score_calibrated)
        summary.headline = run.is_headline
    return summary


def _missing_fields(evidence: Evidence, item: dict[str, Any]) -> list[str]:
    missing = []
    captured = item["origin"] == ORIGIN_CAPTURE
    if not captured:
        missing.append(_("capture record (uploaded file)"))
    if not item["url"]:
        missing.append(_("URL"))
    if not item["collector"]:
        missing.append(_("collector"))
    if captured:
        if not item["tool"]:
            missing.append(_("tool and version"))
        if not item["collector_ip"]:
            missing.append(_("collector IP"))
        if item["http_status"] is None:
            missing.append(_("HTTP status"))
    if evidence.is_image and not evidence.pdq_hash:
        missing.append(_("PDQ hash"))
    if not item["hash_at_collection"]:
        missing.append(_("custody record of the hash at collection"))
    return missing


def evidence_items_queryset(case: Case, finding_ids: list[int], captures: list[Capture]) -> Any:
    """The case's stored files with what describing them needs, prefetched: one query per
    relation, whatever the number of items."""
    runs = DetectionRun.objects.select_related("detector_version").order_by("-created_at", "-id")
    reviews = DetectionReview.objects.order_by("-created_at", "-id")
    custody = CustodyEvent.objects.order_by("created_at", "id")
    return (
        case_evidence_queryset(case, finding_ids, captures)
        .select_related("capture", "capture__collector", "uploaded_by", "finding")
        .prefetch_related(
            Prefetch("detection_runs", queryset=runs, to_attr="runs_sorted"),
            Prefetch("detection_reviews", queryset=reviews, to_attr="reviews_sorted"),
            Prefetch("custody_events", queryset=custody, to_attr="custody_sorted"),
        )
        .order_by("finding_id", "collected_at", "id")
    )


def evidence_item_build(
    number: int, evidence: Evidence, made_by: list[Capture], role: str
) -> EvidenceItem:
    """Describe one stored file. Evidence from captures is described from its first
    successful capture (the time it was captured); a record from its unsuccessful attempt,
    with no capture time at all."""
    done = [capture for capture in made_by if capture.status == CaptureStatus.DONE]
    capture = done[0] if done else (made_by[0] if made_by else None)
    finding = evidence.finding
    url = (capture.requested_url if capture else "") or (finding.canonical_url if finding else "")
    uploaded_by = evidence.uploaded_by.get_username() if evidence.uploaded_by else ""
    origin = ORIGIN_CAPTURE if capture else (ORIGIN_UPLOAD if uploaded_by else ORIGIN_OTHER)
    collector = ""
    if capture is not None and capture.collector is not None:
        collector = capture.collector.get_username()
    elif uploaded_by:
        collector = uploaded_by
    custody: list[CustodyEvent] = evidence.custody_sorted  # type: ignore[attr-defined]
    if not collector:
        collected = [c for c in custody if c.action == CustodyAction.COLLECTED]
        collector = collected[0].actor_label if collected else ""
    hash_at_collection = any(c.action == CustodyAction.COLLECTED for c in custody)
    headers = _header_pairs(capture.headers) if capture else []
    captured_at = (capture.started_at or capture.created_at) if done and capture else None
    values: dict[str, Any] = {
        "url": url,
        "origin": origin,
        "collector": collector,
        "tool": capture.tool_name if capture else "",
        "collector_ip": (capture.collector_ip or "") if capture else "",
        "http_status": capture.http_status if capture else None,
        "hash_at_collection": hash_at_collection,
    }
    reviews: list[DetectionReview] = evidence.reviews_sorted  # type: ignore[attr-defined]
    return EvidenceItem(
        number=number,
        evidence=evidence,
        finding_id=evidence.finding_id or (capture.finding_id if capture else None),
        finding_url=finding.canonical_url if finding else "",
        url=url,
        final_url=capture.final_url if capture else "",
        captured_utc=utc_and_local(captured_at)[0],
        captured_kst=utc_and_local(captured_at)[1],
        collected_utc=utc_and_local(evidence.collected_at)[0],
        collected_kst=utc_and_local(evidence.collected_at)[1],
        collector=collector,
        tool=values["tool"],
        tool_version=capture.tool_version if capture else "",
        collector_ip=values["collector_ip"],
        resolved_ip=(capture.resolved_ip or "") if capture else "",
        http_status=values["http_status"],
        headers=headers[:MAX_HEADERS_SHOWN],
        headers_total=len(headers),
        # A record of a failed attempt is never shown as a picture of the content.
        has_preview=role == ROLE_EVIDENCE and has_image_preview(evidence),
        detection=detection_summary_build(evidence.runs_sorted),  # type: ignore[attr-defined]
        verdict=reviews[0] if reviews else None,
        custody=custody[-MAX_CUSTODY_SHOWN:],
        custody_total=len(custody),
        missing=_missing_fields(evidence, values),
        hash_at_collection=hash_at_collection,
        role=role,
        origin=origin,
        capture=capture,
        uploaded_by=uploaded_by,
        also_captured_by=[c.pk for c in done[1:]],
    )
