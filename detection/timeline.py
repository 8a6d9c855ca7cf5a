"""Detection verdicts as entries of a case's timeline (registered in DetectionConfig.ready,
so cases never imports detection)."""

from __future__ import annotations

from django.urls import reverse
from django.utils.translation import gettext as _

from cases.legal.models import Case
from cases.work.timeline import TimelineEntry, case_findings_subquery
from detection.models import DetectionReview, ReviewVerdict


def case_timeline_verdicts(case: Case, limit: int) -> list[TimelineEntry]:
    """People's verdicts on the evidence of the case's findings, newest first."""
    rows = (
        DetectionReview.objects.filter(evidence__finding__in=case_findings_subquery(case))
        .select_related("evidence")
        .order_by("-created_at", "-id")[:limit]
    )
    return [
        TimelineEntry(
            at=review.created_at,
            kind="verdict",
            label=_("Detection verdict: %(verdict)s")
            % {"verdict": ReviewVerdict(review.verdict).label},
            finding_id=review.evidence.finding_id,
            url=reverse("evidence_detail", args=[review.evidence_id]),
            actor=review.reviewer_label,
        )
        for review in rows
    ]
