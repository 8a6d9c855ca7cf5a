"""Re-hash every stored evidence original; exit 1 when any is missing or altered."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from cases.evidence.services.evidence import evidence_verify_all


class Command(BaseCommand):
    help = (
        "Re-hash every stored evidence original and report missing or altered files. "
        "Writes one audit event per agency with the counts. Exits 1 on any problem."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--no-audit",
            action="store_true",
            help="Check only; do not write the per-agency audit events.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = evidence_verify_all(record=not options["no_audit"])
        for problem in report.problems:
            self.stdout.write(
                f"{problem.problem.upper()} evidence #{problem.evidence_id} "
                f"(agency {problem.agency_id}) sha256={problem.sha256} "
                f"at {problem.storage_name}: {problem.detail}"
            )
        summary = (
            f"{report.rows} evidence rows, {report.blobs} blobs re-hashed, "
            f"{len(report.problems)} problems"
        )
        if not report.ok:
            raise CommandError(summary, returncode=1)
        self.stdout.write(self.style.SUCCESS(f"OK: {summary}"))
