"""manage.py exchange_bank_backfill (--agency SLUG | --all)"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from detection.management.targets import add_agency_target, target_agencies
from detection.services.reviews import detection_bank_backfill


class Command(BaseCommand):
    help = (
        "Apply every item's current verdict to the agency's exchange bank (docs/exchange.md): "
        "for verdicts recorded before the bank existed. Safe to repeat."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        add_agency_target(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        for agency in target_agencies(options):
            count = detection_bank_backfill(agency=agency)
            self.stdout.write(f"{agency.slug}: {count} verdict(s) in the bank")
