"""manage.py export_training_set --agency SLUG OUT_DIR"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cases.kernel.models import Agency
from detection.services.reviews import detection_training_export


class Command(BaseCommand):
    help = (
        "Export an agency's reviewed images as a train_detector folder: confirmed fakes in "
        "fake/, not-fake in real/, with manifest.jsonl. Each file is logged as exported in "
        "its chain of custody. The folder holds evidence: keep it as private as the originals."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("out_dir", help="folder to write (created; must be empty or absent)")
        parser.add_argument("--agency", required=True, help="the agency's slug")

    def handle(self, *args: Any, **options: Any) -> None:
        agency = Agency.objects.filter(slug=options["agency"]).first()
        if agency is None:
            raise CommandError(f"no agency with slug {options['agency']!r}")
        out = Path(options["out_dir"])
        if out.exists() and any(out.iterdir()):
            raise CommandError(f"{out} is not empty: export into a new folder")
        result = detection_training_export(agency=agency, out_dir=out, actor=None)
        self.stdout.write(
            f"exported {result['fake']} fake and {result['real']} real image(s) to {out} "
            f"(manifest: {result['manifest']})"
        )
        if result["fake"] == 0 or result["real"] == 0:
            self.stderr.write(
                "warning: training needs both classes; review more items as confirmed fake / not fake"
            )
