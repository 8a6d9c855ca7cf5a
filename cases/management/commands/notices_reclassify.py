"""Put web-form notices that the old code marked "sent" when it only made their text final,
and that got no answer since, back to awaiting submission (one audit event each). `migrate`
already does this after migrating; this is for operators to run or check by hand."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from cases.notices.services.reclassify import notices_reclassify_unsubmitted


class Command(BaseCommand):
    help = (
        "Put unsubmitted web-form notices wrongly marked sent back to awaiting submission, "
        "with an audit event each, and print how many moved."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        moved = notices_reclassify_unsubmitted()
        noun = "notice" if moved == 1 else "notices"
        self.stdout.write(f"{moved} web-form {noun} put back to awaiting submission.")
