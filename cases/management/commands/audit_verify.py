"""Verify the keyed audit chain of every agency (or one) against its anchors in write-once
storage, and name the first broken link."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cases.kernel.audit.services import audit_chain_verify
from cases.kernel.models import Agency


class Command(BaseCommand):
    help = "Walk each agency's audit chain against its anchors; exit 1 at the first broken link."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--agency", metavar="SLUG", help="Verify only this agency's chain.")

    def handle(self, *args: Any, **options: Any) -> None:
        agencies = Agency.objects.order_by("slug")
        if options["agency"]:
            agencies = agencies.filter(slug=options["agency"])
            if not agencies.exists():
                raise CommandError(f"No agency with slug '{options['agency']}'.")
        broken = []
        for agency in agencies:
            report = audit_chain_verify(agency=agency)
            if report.ok:
                anchor = report.last_anchor
                anchored = (
                    f"{report.anchors_matched} anchors matched, latest at #{anchor.seq}"
                    if anchor
                    else "no anchor yet (run manage.py audit_anchor)"
                )
                self.stdout.write(
                    f"OK      {agency.slug}: {report.checked} events verified; {anchored}"
                )
            elif report.broken_seq is None:  # not checked at all (anchors unreadable)
                broken.append(agency.slug)
                self.stdout.write(f"FAILED  {agency.slug}: {report.reason}")
            else:
                broken.append(agency.slug)
                self.stdout.write(
                    f"BROKEN  {agency.slug}: event #{report.broken_seq}: {report.reason} "
                    f"({report.checked} events verified before it)"
                )
        if broken:
            # CommandError makes manage.py exit with status 1 and print the message on stderr.
            raise CommandError(f"Audit chain broken or unverifiable for: {', '.join(broken)}")
