"""Reads of the detection app, scoped to the user's agency like the cases selectors.

Detector versions are global (software, not agency data) and readable by every member."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db.models import Exists, F, OuterRef, Q, QuerySet, Subquery
from django.db.models.expressions import OrderBy

from cases.evidence.models import Evidence
from cases.kernel.models import Agency
from cases.kernel.tenancy import AnyUser, agency_for, can_write, get_or_404, scoped
from detection.models import (
    DetectionReview,
    DetectionRun,
    DetectionStatus,
    DetectorVersion,
)


def detection_evidence_get_for(user: AnyUser, pk: int | str) -> Evidence:
    """One evidence item of the user's agency; 404 for anyone else's."""
    return get_or_404(scoped(Evidence.objects.select_related("agency", "finding"), user), pk=pk)


def detection_runs_for(user: AnyUser, evidence: Evidence) -> QuerySet[DetectionRun]:
    """An evidence item's runs, newest first."""
    return (
        scoped(DetectionRun.objects.select_related("detector_version", "requested_by"), user)
        .filter(evidence=evidence)
        .order_by("-created_at", "-id")
    )


def detection_run_get_for(user: AnyUser, evidence: Evidence, pk: Any) -> DetectionRun:
    """One run of this evidence item of the user's agency; 404 otherwise (another item's
    run too)."""
    return get_or_404(detection_runs_for(user, evidence), pk=pk)


def detection_reviews_for(user: AnyUser, evidence: Evidence) -> QuerySet[DetectionReview]:
    """An evidence item's reviews, newest first: the first one is the verdict."""
    return (
        scoped(DetectionReview.objects.select_related("reviewer", "run"), user)
        .filter(evidence=evidence)
        .order_by("-created_at", "-id")
    )


def detector_version_list_for(user: AnyUser) -> QuerySet[DetectorVersion]:
    """The detectors a member may read: the active ones (they score the agency's new
    evidence) and any that produced a run on the agency's evidence. A card names its
    training folder and counts, so a model only another agency used stays out of sight."""
    agency = agency_for(user)
    if agency is None:
        return DetectorVersion.objects.none()
    used = DetectionRun.objects.filter(agency=agency, detector_version=OuterRef("pk"))
    return DetectorVersion.objects.filter(Q(active=True) | Q(Exists(used))).order_by(
        "-active", "key", "-registered_at", "-id"
    )


def detector_version_get_for(user: AnyUser, pk: int | str) -> DetectorVersion:
    """One detector's card, for a member who may read it (see above); 404 otherwise."""
    return get_or_404(detector_version_list_for(user), pk=pk)


def latest_verdicts_for_agency(agency: Agency) -> list[DetectionReview]:
    """The current verdict (latest review) of each reviewed evidence item of an agency."""
    latest = (
        DetectionReview.objects.filter(evidence=OuterRef("evidence"))
        .order_by("-created_at", "-id")
        .values("pk")[:1]
    )
    return list(
        DetectionReview.objects.filter(agency=agency, pk=Subquery(latest))
        .select_related("evidence")
        .order_by("evidence_id")
    )


def finding_detection_score() -> Subquery:
    """The highest calibrated probability of any finished run, by a currently active,
    gate-passing, non-legacy detector, on any evidence item of the finding (an expression
    for annotate/order_by). Raw scores of legacy or gate-failing models and runs of retired
    versions never rank a finding."""
    return Subquery(
        DetectionRun.objects.filter(
            evidence__finding=OuterRef("pk"),
            status=DetectionStatus.DONE,
            item_probability__isnull=False,
            score_calibrated=True,
            detector_version__active=True,
            detector_version__gates_passed=True,
            detector_version__legacy=False,
        )
        .order_by(F("item_probability").desc())
        .values("item_probability")[:1]
    )


def finding_score_ordering() -> tuple[OrderBy, str]:
    """Order findings by detection score, highest first, unscored last."""
    return (finding_detection_score().desc(nulls_last=True), "-id")


@dataclass
class DetectionPanel:
    """Everything the evidence detection panel shows, in a bounded number of queries."""

    evidence: Evidence
    runs: list[DetectionRun]
    reviews: list[DetectionReview]
    can_review: bool
    detectable: bool
    history_limit: int = 5
    # Whether a gate-passing detector is active: what "no trained detector installed" says.
    detector_installed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def latest(self) -> DetectionRun | None:
        return self.runs[0] if self.runs else None

    @property
    def verdict(self) -> DetectionReview | None:
        return self.reviews[0] if self.reviews else None

    @property
    def older_runs(self) -> list[DetectionRun]:
        return self.runs[1 : self.history_limit]

    @property
    def pending(self) -> bool:
        latest = self.latest
        return latest is not None and latest.is_pending


def detection_panel_for(user: AnyUser, evidence: Evidence, history: int = 5) -> DetectionPanel:
    """The panel of one evidence item: its runs (latest first, a few older ones), its reviews
        (latest is the verdict), whether the user may review and re-run, and whether a
    gate-passing detector is installed. Three queries."""
    runs = list(detection_runs_for(user, evidence)[: history + 1])
    reviews = list(detection_reviews_for(user, evidence)[:20])
    return DetectionPanel(
        evidence=evidence,
        runs=runs,
        reviews=reviews,
        can_review=can_write(user),
        detectable=evidence.media_type.startswith(("image/", "video/")),
        history_limit=history + 1,
        detector_installed=DetectorVersion.objects.filter(
            active=True, gates_passed=True, legacy=False
        ).exists(),
    )
