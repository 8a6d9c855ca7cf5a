"""Re-hash every fingerprinted evidence item with the current matcher (after the hashing
changed, e.g. when border trimming was added), so old items match as new ones do."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from cases.matching.models import PdqFingerprint
from cases.matching.services.fingerprints import evidence_pdq_run


class Command(BaseCommand):
    help = (
        "Recompute the PDQ fingerprints of every hashed evidence item (images; videos: "
        "vPDQ frame sets where vpdq is installed, and keyframes) and record any new matches. Idempotent; safe to run while workers run."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        ids = list(
            PdqFingerprint.objects.order_by("evidence_id").values_list("evidence_id", flat=True)
        )
        matches = 0
        for evidence_id in ids:
            matches += len(evidence_pdq_run(evidence_id=evidence_id) or [])
        self.stdout.write(
            self.style.SUCCESS(f"OK: {len(ids)} items re-hashed, {matches} new matches")
        )
