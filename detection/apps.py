from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_save


def _on_evidence_saved(
    sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any
) -> None:
    """New suspect images and videos are analysed automatically; see
    detection.services.runs.detection_on_new_evidence."""
    if created and not raw:
        from detection.services.runs import detection_on_new_evidence  # app registry not ready

        detection_on_new_evidence(instance)


class DetectionConfig(AppConfig):
    name = "detection"
    verbose_name = "Detection"

    def ready(self) -> None:
        # app registry not ready when this module is imported: models load after it.
        from cases.evidence.models import Evidence
        from cases.intake.filters import finding_sort_register
        from cases.work.timeline import timeline_source_register
        from detection.selectors import finding_score_ordering
        from detection.timeline import case_timeline_verdicts

        # Decoupled from evidence_ingest: the evidence code need not know detection exists.
        post_save.connect(
            _on_evidence_saved, sender=Evidence, dispatch_uid="detection_on_new_evidence"
        )
        # Highest calibrated probability by an active detector on any of the finding's
        # evidence; one correlated subquery (indexed), unscored findings last.
        finding_sort_register("score", finding_score_ordering())
        # People's verdicts on a case's evidence appear in the case timeline.
        timeline_source_register("detection_verdicts", case_timeline_verdicts)
