"""A person's verdict on an evidence item (the latest review is the verdict), and the export
of the reviewed images as a training set."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from cases.evidence.models import CustodyAction, Evidence
from cases.evidence.services.evidence import custody_record, evidence_open
from cases.kernel.actor import Actor, actor_label, actor_user
from cases.kernel.audit.services import audit_record
from cases.kernel.media import media_suffix
from cases.kernel.models import Agency
from cases.matching.services.bank import bank_verdict_set
from detection.models import DetectionReview, DetectionRun, ReviewVerdict
from detection.selectors import latest_verdicts_for_agency
from detection.services.runs import DetectionError


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
        # The latest verdict decides whether the item is in the agency's exchange bank: a
        # reversed one withdraws it from partners (a delete entry in the feed).
        bank_verdict_set(
            evidence=evidence, confirmed=verdict == ReviewVerdict.CONFIRMED_FAKE, actor=actor
        )
    return review


def detection_bank_backfill(*, agency: Agency) -> int:
    """Bring the agency's exchange bank in line with its current verdicts (verdicts recorded
    before the bank existed, or a bank restored from a backup): each item's latest review
    decides. Idempotent; returns how many items' verdicts were applied."""
    applied = 0
    for review in latest_verdicts_for_agency(agency):
        confirmed = review.verdict == ReviewVerdict.CONFIRMED_FAKE
        if bank_verdict_set(evidence=review.evidence, confirmed=confirmed, actor=None):
            applied += 1
    return applied


def detection_training_export(
    *, agency: Agency, out_dir: str | Path, actor: Actor = None
) -> dict[str, Any]:
    """Write the agency's reviewed images as a train_detector folder: confirmed fakes under
    fake/, not-fake under real/ (unsure and videos left out), with manifest.jsonl (sha256,
    evidence, finding, verdict, reviewer). Each exported item gets a custody event
    "exported"; one audit event records the export as a whole."""

    out = Path(out_dir)
    (out / "fake").mkdir(parents=True, exist_ok=True)
    (out / "real").mkdir(parents=True, exist_ok=True)
    folder = {ReviewVerdict.CONFIRMED_FAKE: "fake", ReviewVerdict.NOT_FAKE: "real"}
    counts = {"fake": 0, "real": 0}
    written: list[dict[str, Any]] = []
    reviews = latest_verdicts_for_agency(agency)
    for review in reviews:
        evidence = review.evidence
        label = folder.get(ReviewVerdict(review.verdict))
        if label is None or not evidence.media_type.startswith("image/"):
            continue
        suffix = media_suffix(evidence.media_type, default=".bin")
        name = f"{evidence.sha256}{suffix}"
        target = out / label / name
        if not target.exists():
            target.write_bytes(_read(evidence))
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


def _read(evidence: Evidence) -> bytes:

    with evidence_open(evidence) as handle:
        return handle.read()
