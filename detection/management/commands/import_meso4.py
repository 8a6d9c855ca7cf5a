"""manage.py import_meso4 H5_PATH --out DIR [--key KEY] [--no-register]

Meso-4 is a 2018 baseline: no calibration, never measured on an agency held-out set, worse
than chance on modern generators. It is registered as a legacy model, never activated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from detection.registry import sha256_file, spec_from_card
from detection.services.detectors import detector_register, gate_failure_text


class Command(BaseCommand):
    help = (
        "Convert MesoNet Meso-4 Keras weights (.h5) to a safetensors checkpoint with a model "
        "card, and register it as a legacy baseline detector: inactive, never a headline score, "
        "its output a raw model score (no calibration). The weights stay out of git."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("h5_path", type=Path, help="Meso4_DF.h5 or Meso4_F2F.h5")
        parser.add_argument(
            "--out", type=Path, default=None, help="folder (default VAR_DIR/models/<key>)"
        )
        parser.add_argument("--key", default="", help="detector key (default from the weights)")
        parser.add_argument("--no-register", action="store_true", help="only write the files")

    def handle(self, *args: Any, **options: Any) -> None:
        from detection.nets.meso4_weights import (  # heavy: detection extra
            KNOWN_WEIGHTS,
            meso4_import,
        )

        h5_path: Path = options["h5_path"]
        if not h5_path.is_file():
            raise CommandError(f"{h5_path} not found")
        if sha256_file(h5_path) not in KNOWN_WEIGHTS:
            self.stderr.write(
                "warning: these are not the published Meso4_DF/Meso4_F2F weights; the card says so"
            )
        known_key = KNOWN_WEIGHTS.get(sha256_file(h5_path), ("meso4", ""))[0]
        out = options["out"] or Path(settings.VAR_DIR) / "models" / (options["key"] or known_key)
        try:
            card_path = meso4_import(h5_path, out, key=options["key"])
        except (OSError, ValueError, KeyError) as exc:
            raise CommandError(f"cannot import {h5_path}: {exc}") from None
        spec = spec_from_card(card_path)
        self.stdout.write(
            f"wrote {spec.checkpoint_path} (SHA-256 {spec.checkpoint_sha256}) and {card_path}"
        )
        if not options["no_register"]:
            register_card(self, card_path, activate=False)


def register_card(
    command: BaseCommand, card_path: Path, *, activate: bool, force: bool = False
) -> None:
    """Register through the detection services: they check the hash and the quality gates.
    A model that fails a gate is refused, or with `force` registered inactive; either way
    the command says which gates failed (a detector is software, not agency data: no audit)."""
    try:
        version = detector_register(card_path=card_path, activate=activate, force=force)
    except Exception as exc:
        raise CommandError(f"could not register {card_path}: {exc}") from None
    state = "active" if version.active else "inactive"
    kind = " legacy" if version.legacy else ""
    command.stdout.write(f"registered{kind} {version.key} {version.version} ({state})")
    if not version.gates_passed:
        command.stdout.write(
            "quality gates failed: " + gate_failure_text(version.card.get("gates") or {})
        )
    if (activate or version.legacy) and not version.active:
        reason = "it is a legacy model" if version.legacy else "it fails its quality gates"
        command.stderr.write(
            f"not activated: {reason}. Its numbers are never a headline score and never rank "
            "findings; evidence pages keep saying 'no trained detector installed'."
        )
