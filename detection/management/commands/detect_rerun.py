"""manage.py detect_rerun (--agency SLUG | --all)"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from detection.management.targets import add_agency_target, target_agencies
from detection.services.runs import detection_rerun_all


class Command(BaseCommand):
    help = "Queue new detection runs for every image and video of one agency, or of all."

    def add_arguments(self, parser: CommandParser) -> None:
        add_agency_target(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        for agency in target_agencies(options):
            count = detection_rerun_all(agency=agency, actor=None)
            self.stdout.write(f"{agency.slug}: queued {count} detection run(s)")
