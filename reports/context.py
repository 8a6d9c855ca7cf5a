"""Everything a dossier, an annex and a packet manifest say about a case, gathered in a
bounded number of queries (one per relation, prefetched), as plain data.

The builder reads by the case's agency, never across agencies: a case's findings, their
evidence (directly or through a capture), and for each item its capture record, custody
log, detection runs and reviews. Nothing here renders or writes."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Prefetch, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.models import AuditEvent, Case, CustodyAction, CustodyEvent, Evidence, EvidenceKind
from detection.models import DetectionReview, DetectionRun, DetectionStatus, DetectorVersion

KST = zoneinfo.ZoneInfo("Asia/Seoul")
# A dossier is for people: past these, the packet's manifest.json has the rest.
MAX_HEADERS_SHOWN = 40
MAX_TIMELINE_EVENTS = 2000
MAX_CUSTODY_SHOWN = 50
NO_DETECTOR = "no trained detector installed"


def utc_and_kst(moment: datetime | None) -> tuple[str, str]:
    """ISO-like UTC and KST renderings of one instant ("" when unknown)."""
    if moment is None:
        return "", ""
    utc = moment.astimezone(zoneinfo.ZoneInfo("UTC"))
    return utc.strftime("%Y-%m-%d %H:%M:%S UTC"), moment.astimezone(KST).strftime(
        "%Y-%m-%d %H:%M:%S KST"
    )


@dataclass
class DetectionSummary:
    """The latest detection run of an item, honestly: a probability only when a registered
    detector produced it, with that detector's card and measured AUC."""

    status: str
    status_label: str
    probability: float | None = None
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
        return {
            "status": self.status,
            "calibrated_probability_fake": self.probability,
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


@dataclass
class EvidenceItem:
    """One evidence item as the dossier and the manifest describe it."""

    number: int
    evidence: Evidence
    finding_id: int | None
    finding_url: str
    url: str
    final_url: str
    captured_utc: str
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

    @property
    def anchor(self) -> str:
        return f"ev-{self.evidence.pk}"


@dataclass
class Completeness:
    """The Berkeley Protocol minimum for one web item (a finding): URL, HTML source, a
    dated full-page screenshot and a hash taken at collection."""

    finding_id: int
    url: str
    has_url: bool
    has_html: bool
    has_screenshot: bool
    has_hash: bool

    @property
    def missing(self) -> list[str]:
        labels = []
        if not self.has_url:
            labels.append(_("URL"))
        if not self.has_html:
            labels.append(_("HTML source"))
        if not self.has_screenshot:
            labels.append(_("dated full-page screenshot"))
        if not self.has_hash:
            labels.append(_("hash at collection"))
        return labels

    @property
    def complete(self) -> bool:
        return not self.missing


@dataclass
class NoticeRow:
    reference: str
    platform: str
    basis: str
    status: str
    sent: str
    responses: list[str]


@dataclass
class DossierContext:
    case: Case
    agency_name: str
    artists: list[Any]
    findings: list[Any]
    items: list[EvidenceItem]
    completeness: list[Completeness]
    notices: list[NoticeRow]
    notices_available: bool
    timeline: list[AuditEvent]
    timeline_truncated: bool
    detector_installed: bool
    generated_at: datetime
    generated_utc: str
    generated_kst: str

    @property
    def evidence_hashes(self) -> list[str]:
        return [item.evidence.sha256 for item in self.items]

    @property
    def incomplete_count(self) -> int:
        return sum(1 for row in self.completeness if not row.complete)


def _header_pairs(headers: Any) -> list[tuple[str, str]]:
    if isinstance(headers, dict):
        return [(str(k), str(v)) for k, v in headers.items()]
    if isinstance(headers, list):
        return [(str(pair[0]), str(pair[1])) for pair in headers if len(pair) == 2]
    return []


def _detection(runs: list[DetectionRun], installed: bool) -> DetectionSummary | None:
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
        finished_utc=utc_and_kst(run.finished_at)[0],
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
    # Only a finished run of a registered detector carries a number (a DB constraint too).
    if run.status == DetectionStatus.DONE:
        summary.probability = run.item_probability
    return summary


def _missing_fields(evidence: Evidence, item: dict[str, Any]) -> list[str]:
    missing = []
    if evidence.capture_id is None:
        missing.append(_("capture record (uploaded file)"))
    if not item["url"]:
        missing.append(_("URL"))
    if not item["collector"]:
        missing.append(_("collector"))
    if evidence.capture_id is not None:
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


def _evidence_queryset(case: Case) -> Any:
    finding_ids = list(case.findings.values_list("pk", flat=True))
    runs = DetectionRun.objects.select_related("detector_version").order_by("-created_at", "-id")
    reviews = DetectionReview.objects.order_by("-created_at", "-id")
    custody = CustodyEvent.objects.order_by("created_at", "id")
    return (
        Evidence.objects.filter(agency_id=case.agency_id)
        .filter(Q(finding_id__in=finding_ids) | Q(capture__finding_id__in=finding_ids))
        .exclude(kind=EvidenceKind.REFERENCE)
        .select_related("capture", "capture__collector", "uploaded_by", "finding")
        .prefetch_related(
            Prefetch("detection_runs", queryset=runs, to_attr="runs_sorted"),
            Prefetch("detection_reviews", queryset=reviews, to_attr="reviews_sorted"),
            Prefetch("custody_events", queryset=custody, to_attr="custody_sorted"),
        )
        .order_by("finding_id", "collected_at", "id")
    ), finding_ids


def _item(number: int, evidence: Evidence, installed: bool) -> EvidenceItem:
    capture = evidence.capture
    finding = evidence.finding
    url = (capture.requested_url if capture else "") or (finding.canonical_url if finding else "")
    collector = ""
    if capture is not None and capture.collector is not None:
        collector = capture.collector.get_username()
    elif evidence.uploaded_by is not None:
        collector = evidence.uploaded_by.get_username()
    custody: list[CustodyEvent] = evidence.custody_sorted  # type: ignore[attr-defined]
    if not collector:
        collected = [c for c in custody if c.action == CustodyAction.COLLECTED]
        collector = collected[0].actor_label if collected else ""
    hash_at_collection = any(c.action == CustodyAction.COLLECTED for c in custody)
    headers = _header_pairs(capture.headers) if capture else []
    captured_at = (capture.started_at or capture.created_at) if capture else None
    values: dict[str, Any] = {
        "url": url,
        "collector": collector,
        "tool": capture.tool_name if capture else "",
        "collector_ip": (capture.collector_ip or "") if capture else "",
        "http_status": capture.http_status if capture else None,
        "hash_at_collection": hash_at_collection,
    }
    reviews: list[DetectionReview] = evidence.reviews_sorted  # type: ignore[attr-defined]
    from cases.previews import has_image_preview

    return EvidenceItem(
        number=number,
        evidence=evidence,
        finding_id=evidence.finding_id or (capture.finding_id if capture else None),
        finding_url=finding.canonical_url if finding else "",
        url=url,
        final_url=capture.final_url if capture else "",
        captured_utc=utc_and_kst(captured_at)[0],
        captured_kst=utc_and_kst(captured_at)[1],
        collected_utc=utc_and_kst(evidence.collected_at)[0],
        collected_kst=utc_and_kst(evidence.collected_at)[1],
        collector=collector,
        tool=values["tool"],
        tool_version=capture.tool_version if capture else "",
        collector_ip=values["collector_ip"],
        resolved_ip=(capture.resolved_ip or "") if capture else "",
        http_status=values["http_status"],
        headers=headers[:MAX_HEADERS_SHOWN],
        headers_total=len(headers),
        has_preview=has_image_preview(evidence),
        detection=_detection(evidence.runs_sorted, installed),  # type: ignore[attr-defined]
        verdict=reviews[0] if reviews else None,
        custody=custody[-MAX_CUSTODY_SHOWN:],
        custody_total=len(custody),
        missing=_missing_fields(evidence, values),
        hash_at_collection=hash_at_collection,
    )


def _completeness(findings: list[Any], items: list[EvidenceItem]) -> list[Completeness]:
    by_finding: dict[int, list[EvidenceItem]] = {}
    for item in items:
        if item.finding_id is not None:
            by_finding.setdefault(item.finding_id, []).append(item)
    rows = []
    for finding in findings:
        own = by_finding.get(finding.pk, [])
        kinds = {item.evidence.kind for item in own}
        rows.append(
            Completeness(
                finding_id=finding.pk,
                url=finding.canonical_url,
                has_url=bool(finding.canonical_url),
                has_html=EvidenceKind.HTML in kinds,
                has_screenshot=any(
                    item.evidence.kind == EvidenceKind.SCREENSHOT and item.evidence.collected_at
                    for item in own
                ),
                has_hash=bool(own) and all(item.hash_at_collection for item in own),
            )
        )
    return rows


def _notices(case: Case, finding_ids: list[int]) -> tuple[list[NoticeRow], bool]:
    """Notices of the case's findings, when the notices app part is installed (issue 5).
    Read defensively: the dossier must render whatever fields the model grows."""
    import cases.models as case_models

    notice_model = getattr(case_models, "Notice", None)
    if notice_model is None:
        return [], False
    queryset = notice_model.objects.filter(agency_id=case.agency_id)
    field_names = {f.name for f in notice_model._meta.get_fields()}
    if "findings" in field_names:
        queryset = queryset.filter(findings__in=finding_ids).distinct()
    elif "finding" in field_names:
        queryset = queryset.filter(finding_id__in=finding_ids)
    else:
        return [], True
    if "platform" in field_names:
        queryset = queryset.select_related("platform")
    rows = []
    for notice in queryset.order_by("pk")[:500]:
        sent = getattr(notice, "sent_at", None)
        responses = []
        for name in ("responses", "events", "platform_responses"):
            related = getattr(notice, name, None)
            if related is not None and hasattr(related, "all"):
                responses = [str(r) for r in related.all()[:20]]
                break
        basis_display = getattr(notice, "get_legal_basis_display", None)
        status_display = getattr(notice, "get_status_display", None)
        rows.append(
            NoticeRow(
                reference=str(getattr(notice, "reference", "") or f"#{notice.pk}"),
                platform=str(getattr(notice, "platform", "") or ""),
                basis=str(basis_display() if basis_display else getattr(notice, "legal_basis", "")),
                status=str(status_display() if status_display else getattr(notice, "status", "")),
                sent=utc_and_kst(sent)[0] if isinstance(sent, datetime) else "",
                responses=responses,
            )
        )
    return rows, True


def _timeline(case: Case, finding_ids: list[int]) -> tuple[list[AuditEvent], bool]:
    events = list(
        AuditEvent.objects.filter(agency_id=case.agency_id)
        .filter(
            Q(object_type="case", object_id=str(case.pk))
            | Q(object_type="finding", object_id__in=[str(pk) for pk in finding_ids])
        )
        .order_by("seq")[: MAX_TIMELINE_EVENTS + 1]
    )
    return events[:MAX_TIMELINE_EVENTS], len(events) > MAX_TIMELINE_EVENTS


def dossier_context_build(case: Case, *, evidence_ids: list[int] | None = None) -> DossierContext:
    """Gather a case's dossier content. `evidence_ids` narrows the items (the annex)."""
    queryset, finding_ids = _evidence_queryset(case)
    if evidence_ids is not None:
        queryset = queryset.filter(pk__in=evidence_ids)
    installed = DetectorVersion.objects.filter(active=True).exists()
    items = [_item(n, ev, installed) for n, ev in enumerate(queryset, start=1)]
    findings = list(case.findings.select_related("platform").order_by("pk").defer("notes"))
    counts: dict[int, int] = {}
    for item in items:
        if item.finding_id is not None:
            counts[item.finding_id] = counts.get(item.finding_id, 0) + 1
    for finding in findings:
        finding.evidence_count = counts.get(finding.pk, 0)
    notices, notices_available = _notices(case, finding_ids)
    timeline, truncated = _timeline(case, finding_ids)
    now = timezone.now()
    utc, kst = utc_and_kst(now)
    return DossierContext(
        case=case,
        agency_name=case.agency.name,
        artists=list(case.artists.order_by("stage_name")),
        findings=findings,
        items=items,
        completeness=_completeness(findings, items),
        notices=notices,
        notices_available=notices_available,
        timeline=timeline,
        timeline_truncated=truncated,
        detector_installed=installed,
        generated_at=now,
        generated_utc=utc,
        generated_kst=kst,
    )
