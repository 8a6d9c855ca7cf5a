"""The model registry's writes: register a detector version from its model card (checkpoint
hash verified, quality gates evaluated), activate and deactivate versions, and name the
version new runs use."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction

from detection.gates import gates_report
from detection.models import DetectorVersion
from detection.registry import sha256_file, spec_from_card
from detection.statements import gate_thresholds

log = logging.getLogger(__name__)


class DetectorRegistrationError(ValueError):
    """A model card that cannot be registered (missing file, hash mismatch, conflict)."""


def detector_register(
    *, card_path: str | Path, activate: bool = True, force: bool = False
) -> DetectorVersion:
    """Register the detector a model card describes, after checking that the checkpoint on
    disk has the SHA-256 the card states, and evaluate its quality gates (detection.gates,
    thresholds from settings); the results are stored on the version's card.

    A model that fails a gate is refused unless `force`, and then registered inactive with
    its failures on its card: it is never activated, whatever `activate` says (the caller
    reads `version.active`). A legacy model (Meso-4) is registered inactive, without `force`.
    Activating a version deactivates the other versions of the same key. Registering the
    same (key, version, hash) again refreshes the card and re-evaluates the gates."""

    card_path = Path(card_path)
    if not card_path.is_file():
        raise DetectorRegistrationError(f"model card not found: {card_path}")
    spec = spec_from_card(card_path)
    checkpoint = Path(spec.checkpoint_path)
    if not checkpoint.is_file():
        raise DetectorRegistrationError(f"checkpoint not found: {checkpoint}")
    actual = sha256_file(checkpoint)
    if actual != spec.checkpoint_sha256:
        raise DetectorRegistrationError(
            f"checkpoint {checkpoint} has SHA-256 {actual}, but the model card says "
            f"{spec.checkpoint_sha256}: refusing to register it"
        )
    card = _card_dict(spec)
    card["gates"] = gates_report(card, gate_thresholds())
    passed = bool(card["gates"]["passed"])
    if not passed and not spec.legacy and not force:
        raise DetectorRegistrationError(
            f"{spec.key} {spec.version} fails its quality gates "
            f"({gate_failure_text(card['gates'])}): not registered. Pass --force to register "
            "it inactive with the failures on its card (it can never be activated)."
        )
    activate = activate and passed and not spec.legacy
    with transaction.atomic():
        version = (
            DetectorVersion.objects.select_for_update()
            .filter(key=spec.key, version=spec.version)
            .first()
        )
        if version is not None and version.checkpoint_sha256 != spec.checkpoint_sha256:
            raise DetectorRegistrationError(
                f"{spec.key} {spec.version} is already registered with another checkpoint "
                f"({version.checkpoint_sha256[:12]}…): give the new one a new version"
            )
        if activate:
            others = DetectorVersion.objects.filter(key=spec.key, active=True)
            if version is not None:
                others = others.exclude(pk=version.pk)
            others.update(active=False)
        if version is None:
            version = DetectorVersion(key=spec.key, version=spec.version)
        version.architecture = spec.architecture
        version.checkpoint_path = str(checkpoint)
        version.checkpoint_sha256 = spec.checkpoint_sha256
        version.card_path = str(card_path.resolve())
        version.card = card
        version.legacy = spec.legacy
        version.gates_passed = passed
        # A refreshed card that now fails (stricter thresholds) takes the version out of use.
        version.active = (activate or version.active) and passed and not spec.legacy
        version.save()
    log.info(
        "registered detector %s %s (%s), gates %s",
        spec.key,
        spec.version,
        spec.checkpoint_sha256,
        "passed" if passed else "failed: " + gate_failure_text(card["gates"]),
    )
    return version


def gate_failure_text(gates: dict[str, Any]) -> str:
    """ "score_spread 0.0 (needs > 0.01), ..." for a gates report; "" when all passed."""
    parts = []
    for result in gates.get("results") or []:
        if not result.get("passed"):
            value = result.get("value")
            shown = "not measured" if value is None else f"{value:.4g}"
            parts.append(f"{result['name']} {shown} (needs {result['threshold']})")
    return ", ".join(parts)


def _card_dict(spec: Any) -> dict[str, Any]:
    """The card as stored on the version: the spec with its absolute checkpoint path, so
    loading later never depends on the card file still being where it was."""
    return json.loads(json.dumps(spec.to_card(), default=str))


def detector_active() -> DetectorVersion | None:
    """The detector new runs use: DETECTION_DETECTOR_KEY's active version when that setting
    names one, else the most recently registered active version. Active implies gate-passing
    and not legacy (a database constraint), so a legacy model is never picked."""
    active = DetectorVersion.objects.filter(active=True, gates_passed=True, legacy=False)
    key = getattr(settings, "DETECTION_DETECTOR_KEY", "")
    if key:
        active = active.filter(key=key)
    return active.order_by("-registered_at", "-id").first()


class DetectorActivationError(DetectorRegistrationError):
    """Activation refused: the model is legacy or fails its quality gates."""


def detector_activate(*, version: DetectorVersion) -> DetectorVersion:
    """Make a registered version the one its key uses, after re-evaluating its gates against
    today's thresholds (stored on its card). A legacy or gate-failing model is refused: the
    same rule as registration, the admin and the database constraint."""

    refusal = ""
    with transaction.atomic():
        version = DetectorVersion.objects.select_for_update().get(pk=version.pk)
        card = dict(version.card or {})
        card["gates"] = gates_report(card, gate_thresholds())
        version.card = card
        version.gates_passed = bool(card["gates"]["passed"])
        if version.legacy or not version.gates_passed:
            # The fresh gate results stay on the card (committed), the refusal follows.
            version.active = False
            refusal = (
                "it is a legacy model"
                if version.legacy
                else f"it fails its quality gates ({gate_failure_text(card['gates'])})"
            )
        else:
            DetectorVersion.objects.filter(key=version.key, active=True).exclude(
                pk=version.pk
            ).update(active=False)
            version.active = True
        version.save(update_fields=["card", "gates_passed", "active"])
    if refusal:
        raise DetectorActivationError(f"{version} cannot be activated: {refusal}")
    return version


def detector_deactivate(*, version: DetectorVersion) -> DetectorVersion:
    version.active = False
    version.save(update_fields=["active"])
    return version
