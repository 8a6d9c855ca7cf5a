"""Anchor every agency's audit chain head (or one's) in write-once storage, as the schedule
does; exit 1 when a chain does not verify (it is then not anchored)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cases.kernel.audit.services import AnchorOutcome, audit_anchor, audit_anchor_all
from cases.kernel.models import Agency


class Command(BaseCommand):
    help = "Write each agency's audit chain head to write-once storage (with a TSA token if set)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--agency", metavar="SLUG", help="Anchor only this agency's chain.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["agency"]:
            agency = Agency.objects.filter(slug=options["agency"]).first()
            if agency is None:
                raise CommandError(f"No agency with slug '{options['agency']}'.")
            outcomes = [audit_anchor(agency=agency, reason="manage.py audit_anchor")]
        else:
            outcomes = audit_anchor_all(reason="manage.py audit_anchor")
        slugs = dict(Agency.objects.values_list("pk", "slug"))
        broken = []
        for outcome in outcomes:
            slug = slugs.get(outcome.agency_id, str(outcome.agency_id))
            self.stdout.write(f"{self._status(outcome):<8}{slug}: {self._describe(outcome)}")
            if not outcome.report.ok:
                broken.append(slug)
        if broken:
            raise CommandError(f"Not anchored, audit chain broken for: {', '.join(broken)}")

    @staticmethod
    def _status(outcome: AnchorOutcome) -> str:
        if not outcome.report.ok:
            return "BROKEN"
        if outcome.record is None:
            return "EMPTY"
        return "NEW" if outcome.written else "SAME"

    @staticmethod
    def _describe(outcome: AnchorOutcome) -> str:
        report, record = outcome.report, outcome.record
        if not report.ok:
            return f"event #{report.broken_seq}: {report.reason}"
        if record is None:
            return "no events yet, nothing to anchor"
        return (
            f"head #{record.ref.seq} {record.ref.hash} key {record.key_id or '(unkeyed)'} "
            f"anchored at {record.anchored_at} as {record.ref.name}; {outcome.timestamp_note}"
        )
