"""manage.py exchange_bank_backfill (--agency SLUG | --all)"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cases.kernel.models import Agency
from detection.services.reviews import detection_bank_backfill


class Command(BaseCommand):
    help = (
        "Apply every item's current verdict to the agency's exchange bank (docs/exchange.md): "
        "for verdicts recorded before the bank existed. Safe to repeat."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument("--agency", help="the agency's slug")
        target.add_argument("--all", action="store_true", help="every agency")

    def handle(self, *args: Any, **options: Any) -> None:
        agencies = Agency.objects.order_by("pk")
        if options["agency"]:
            agencies = agencies.filter(slug=options["agency"])
            if not agencies.exists():
                raise CommandError(f"no agency with slug {options['agency']!r}")
        for agency in agencies:
            count = detection_bank_backfill(agency=agency)
            self.stdout.write(f"{agency.slug}: {count} verdict(s) in the bank")
