"""Re-key old findings under the platforms' current share parameters (see
cases/intake/services/recanonicalize.py). Without --apply it only reports."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cases.intake.services.recanonicalize import findings_recanonicalize
from cases.kernel.models import Agency


class Command(BaseCommand):
    help = (
        "Recompute every finding's canonical URL from the URL as given, under the agency's "
        "current platform rules. Reports what would change; --apply re-keys the findings whose "
        "new form is free (audited). Findings whose new form another finding holds are listed "
        "as duplicates and left for staff to merge or dismiss."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--agency", help="agency slug (default: every agency)")
        parser.add_argument("--apply", action="store_true", help="re-key; without it, report only")

    def handle(self, *args: Any, **options: Any) -> None:
        agencies = Agency.objects.order_by("pk")
        if options["agency"]:
            agencies = agencies.filter(slug=options["agency"])
            if not agencies.exists():
                raise CommandError(f"no agency with slug {options['agency']!r}")
        verb = "re-keyed" if options["apply"] else "would be re-keyed"
        for agency in agencies:
            result = findings_recanonicalize(agency=agency, actor=None, apply=options["apply"])
            self.stdout.write(
                f"{agency.slug}: {result.checked} findings checked, "
                f"{len(result.rekeyed)} {verb}, {len(result.duplicates)} duplicates, "
                f"{len(result.refused)} refused under today's rules"
            )
            for pk, holder in result.duplicates:
                self.stdout.write(f"  finding #{pk} is the same URL as finding #{holder}")
            for pk, reason in result.refused:
                self.stdout.write(f"  finding #{pk} kept as it is: {reason}")
