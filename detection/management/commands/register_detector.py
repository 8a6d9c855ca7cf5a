"""manage.py register_detector CARD.json [--inactive] [--rerun]"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from cases.kernel.models import Agency
from detection.services.detectors import detector_register, gate_failure_text
from detection.services.runs import detection_rerun_all


class Command(BaseCommand):
    help = (
        "Register the detector a model card describes, after verifying its checkpoint's "
        "SHA-256, and evaluate its quality gates. It becomes the active version of its key "
        "unless --inactive; a model that fails a gate is refused (--force: registered inactive)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("card", help="path of the model card (JSON) written by train_detector")
        parser.add_argument(
            "--inactive", action="store_true", help="register without making it active"
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="register a model that fails its quality gates, inactive (never activated)",
        )
        parser.add_argument(
            "--rerun",
            action="store_true",
            help="queue new detection runs for every image and video of every agency",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            version = detector_register(
                card_path=options["card"],
                activate=not options["inactive"],
                force=options["force"],
            )
        except (ValueError, OSError) as exc:
            raise CommandError(str(exc)) from None
        if not version.gates_passed:
            self.stderr.write(
                "quality gates failed, not activated: "
                + gate_failure_text(version.card.get("gates") or {})
            )
        state = "active" if version.active else "inactive"
        auc = version.auc
        self.stdout.write(
            f"registered {version.key} {version.version} ({state}); checkpoint sha256 "
            f"{version.checkpoint_sha256}; AUC {'not measured' if auc is None else f'{auc:.3f}'}"
        )
        if options["rerun"]:
            total = 0
            for agency in Agency.objects.order_by("pk"):
                total += detection_rerun_all(agency=agency, actor=None)
            self.stdout.write(f"queued {total} detection run(s)")
