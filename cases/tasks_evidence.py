"""Celery tasks for evidence: ids in, one service call, nothing else."""

from __future__ import annotations

import logging

from celery import shared_task

from cases.models import Evidence

log = logging.getLogger(__name__)


@shared_task(acks_late=True, max_retries=3, default_retry_delay=30)
def evidence_preview_build(evidence_id: int) -> None:
    """Build the blurred preview ahead of the first page view (idempotent: cached by hash)."""
    from cases.previews import blurred_preview

    evidence = Evidence.objects.filter(pk=evidence_id).first()
    if evidence is not None:
        blurred_preview(evidence)


@shared_task(acks_late=True)
def evidence_verify_all() -> dict[str, object]:
    """The scheduled integrity check: re-hash every original, one audit event per agency."""
    from cases.services.evidence import evidence_verify_all as verify

    report = verify()
    for problem in report.problems:
        log.error(
            "evidence #%s of agency %s is %s: %s",
            problem.evidence_id,
            problem.agency_id,
            problem.problem,
            problem.detail,
        )
    return {"rows": report.rows, "blobs": report.blobs, "problems": len(report.problems)}
