"""manage.py detect FILE [--card CARD] [--max-frames N] [--device DEVICE]"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from detection.pipeline import analyze
from detection.registry import (
    CardError,
    ChecksumMismatch,
    DetectorLoadError,
    load_detector,
    spec_from_card,
)
from detection.services.detectors import detector_active


class Command(BaseCommand):
    help = (
        "Run the detection pipeline on one image or video and print the result as JSON: "
        "faces, per-face and item scores, detector version, checkpoint SHA-256, device and "
        "timings. Uses --card, else the active registered detector, else none (faces only: "
        "'no trained detector installed', never a number)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--card", type=Path, help="a detector's card.json")
        parser.add_argument("--max-frames", type=int, default=8, help="frames sampled from a video")
        parser.add_argument("--device", default=None, help="cpu, cuda (default: CUDA if present)")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
        card = options["card"] or self._active_card()
        detector = None
        if card is not None:
            try:
                detector = load_detector(spec_from_card(card), options["device"])
            except (CardError, ChecksumMismatch, DetectorLoadError) as exc:
                raise CommandError(str(exc)) from None
        media_type = mimetypes.guess_type(path.name)[0] or ""
        result = analyze(
            data, detector=detector, media_type=media_type, max_frames=options["max_frames"]
        )
        report = {"file": str(path), **result.to_dict()}
        if result.item_probability is not None:
            # Say what the number is: without a calibration fitted on held-out data it is
            # the model's raw score, not a probability.
            report["score_kind"] = (
                "calibrated_probability" if result.score_calibrated else "raw_model_score"
            )
        self.stdout.write(json.dumps(report, indent=2))

    def _active_card(self) -> Path | None:
        try:
            version = detector_active()
        except DatabaseError as exc:
            self.stderr.write(f"detector registry unreadable ({exc}); run manage.py migrate")
            return None
        return Path(version.card_path) if version is not None and version.card_path else None
