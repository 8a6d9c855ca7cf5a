"""Compare the dashboard's finding counters with a fresh count of the findings and their
artist links; with --fix, rewrite the counters that differ. Exits with status 1 when a
counter differs and --fix was not given (for a nightly job to alert on)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cases.intake.counts import finding_counts_compare, finding_counts_rebuild
from cases.kernel.models import Agency


class Command(BaseCommand):
    help = (
        "Check the dashboard's per-agency finding counters against a fresh GROUP BY; "
        "--fix rewrites them from it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--agency", help="slug of one agency (default: all)")
        parser.add_argument("--fix", action="store_true", help="rewrite the counters")

    def handle(self, *args: Any, **options: Any) -> None:
        agency_id = None
        if options["agency"]:
            agency = Agency.objects.filter(slug=options["agency"]).first()
            if agency is None:
                raise CommandError(f"no agency with slug {options['agency']!r}")
            agency_id = agency.pk
        mismatches = finding_counts_compare(agency_id=agency_id)
        for m in mismatches:
            self.stdout.write(
                f"agency {m.agency_id} {m.dimension}={m.key or '(none)'}: "
                f"counter {m.stored}, findings {m.actual}"
            )
        if not mismatches:
            self.stdout.write("Finding counters match the findings.")
            return
        if not options["fix"]:
            raise CommandError(f"{len(mismatches)} finding counter(s) differ; run with --fix")
        finding_counts_rebuild(agency_id=agency_id)
        left = finding_counts_compare(agency_id=agency_id)
        if left:
            raise CommandError(f"{len(left)} finding counter(s) still differ after --fix")
        self.stdout.write(f"{len(mismatches)} finding counter(s) rewritten.")
