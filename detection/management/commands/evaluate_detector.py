"""manage.py evaluate_detector --card CARD DATA_DIR --out DIR"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from detection.registry import (
    CardError,
    ChecksumMismatch,
    DetectorLoadError,
    load_detector,
    spec_from_card,
)
from detection.training import TrainingDataError, evaluate_detector


class Command(BaseCommand):
    help = (
        "Score DATA_DIR/real and DATA_DIR/fake with a detector; print AUC (bootstrap 95% CI), "
        "EER and ECE, and save roc.png, reliability.png and metrics.json to --out."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("data_dir", type=Path)
        parser.add_argument("--card", type=Path, required=True, help="the detector's card.json")
        parser.add_argument("--out", type=Path, required=True)
        parser.add_argument("--bootstrap", type=int, default=1000, help="bootstrap replicates")
        parser.add_argument("--device", default=None)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            detector = load_detector(spec_from_card(options["card"]), options["device"])
        except (CardError, ChecksumMismatch, DetectorLoadError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            f"detector {detector.spec.label} (SHA-256 {detector.spec.checkpoint_sha256}) "
            f"on {detector.device}"
        )
        try:
            metrics = evaluate_detector(
                detector, options["data_dir"], options["out"],
                n_boot=options["bootstrap"], log=self.stdout.write,
            )  # fmt: skip
        except (TrainingDataError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"saved {metrics['roc_png']} and {metrics['reliability_png']}")
