"""Detector versions for tests, built the way registration builds them: the card's gates
evaluated by detection.gates with this deployment's thresholds, so `gates_passed` and
`active` obey the same rule (and database constraint) as real ones."""

from __future__ import annotations

from typing import Any

from detection.gates import gates_report
from detection.models import DetectorVersion
from detection.statements import gate_thresholds


def passing_card_fields(*, n_per_class: int = 206, auc: float = 0.91) -> dict[str, Any]:
    """Card fields that pass every gate: held-out measurements and a fitted calibration."""
    return {
        "metrics": {
            "auc": auc,
            "auc_ci": [round(auc - 0.03, 4), round(auc + 0.03, 4)],
            "n_eval": 2 * n_per_class,
            "n_fake": n_per_class,
            "n_real": n_per_class,
            "raw_score_std": 0.21,
        },
        "calibration": {
            "method": "platt",
            "a": 0.8,
            "b": -0.1,
            "fitted_on": "held_out",
            "n_fit": 2 * n_per_class,
        },
    }


def detector_version(
    *,
    key: str = "effnet",
    version: str = "2026.11",
    card: dict[str, Any] | None = None,
    active: bool | None = None,
    legacy: bool = False,
    architecture: str = "efficientnet_lite0",
    sha: str = "ab" * 32,
) -> DetectorVersion:
    """A registered version whose card is `card` (default: one that passes every gate);
    active when it passes, unless `active` says otherwise."""
    card = dict(passing_card_fields() if card is None else card)
    card.setdefault("licence", "internal")
    card.setdefault("limits", "faces only")
    card["legacy"] = legacy
    card["gates"] = gates_report(card, gate_thresholds())
    passed = bool(card["gates"]["passed"])
    return DetectorVersion.objects.create(
        key=key,
        version=version,
        architecture=architecture,
        checkpoint_path="/models/model.safetensors",
        checkpoint_sha256=sha,
        card=card,
        legacy=legacy,
        gates_passed=passed,
        active=(passed and not legacy) if active is None else active,
    )
