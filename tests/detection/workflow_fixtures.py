"""Fixtures of the detection workflow tests: URL wiring, a tiny registered detector, and
evidence ingested the way real evidence arrives (so the post_save hook queues detection)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.urls import NoReverseMatch, reverse

from cases.evidence.models import Evidence, EvidenceKind
from cases.evidence.services.evidence import evidence_ingest
from detection.models import DetectionRun
from tests.data_path import data_file


@pytest.fixture(autouse=True)
def detection_urls(settings: Any) -> None:
    """Until the lead wires detection.urls into the root URLconf, the tests add it."""
    try:
        reverse("evidence_detection", args=[1])
    except NoReverseMatch:
        settings.ROOT_URLCONF = "tests.detection.urls"


@pytest.fixture
def face_jpeg() -> bytes:
    """A real, public-domain portrait with one face (official US government photo)."""
    return data_file("faces", "real", "obama.jpg").read_bytes()


def ingest(
    agency: Any,
    data: bytes,
    *,
    actor: Any = None,
    finding: Any = None,
    kind: str = EvidenceKind.UPLOAD,
    name: str = "item",
) -> Evidence:
    evidence, _created = evidence_ingest(
        agency=agency, data=data, kind=kind, collected_by=actor, finding=finding, original_name=name
    )
    return evidence


def latest_run(evidence: Evidence) -> DetectionRun:
    run = DetectionRun.objects.filter(evidence=evidence).order_by("-created_at", "-id").first()
    assert run is not None, f"no detection run for evidence {evidence.pk}"
    return run


def make_detector_card(
    folder: Path,
    *,
    version: str = "1",
    auc: float | None = 0.91,
    n_eval: int = 120,
    broken: bool = False,
    calibrated: bool = True,
) -> Path:
    """A tiny Meso-4 (random weights, fixed seed) saved as safetensors with its model card.
    The card states held-out measurements (n_eval split evenly between the classes) and,
    when `calibrated`, a Platt calibration fitted on them: with the defaults it passes the
    quality gates. `broken` fills the weights with NaN: a model that returns NaN."""
    torch = pytest.importorskip("torch", reason="the detection extra (torch) is not installed")
    from detection.nets.meso4 import Meso4
    from detection.registry import DetectorSpec, save_checkpoint, write_card

    torch.manual_seed(0)
    model = Meso4()
    if broken:
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.fill_(float("nan"))
    folder.mkdir(parents=True, exist_ok=True)
    checkpoint = folder / f"meso4-test-{version}.safetensors"
    digest = save_checkpoint(model, checkpoint)
    metrics: dict[str, Any] = (
        {}
        if auc is None
        else {
            "auc": auc,
            "auc_ci": [0.85, 0.95],
            "n_eval": n_eval,
            "n_fake": n_eval // 2,
            "n_real": n_eval - n_eval // 2,
            "raw_score_std": 0.2,
        }
    )
    calibration = (
        {"method": "platt", "a": 1.0, "b": 0.0, "fitted_on": "held_out", "n_fit": n_eval}
        if calibrated
        else {"method": "none"}
    )
    spec = DetectorSpec(
        key="meso4-test",
        version=version,
        architecture="meso4",
        checkpoint_path=str(checkpoint),
        checkpoint_sha256=digest,
        input_size=256,
        mean=(0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0),
        output="real_prob",
        metrics=metrics,
        calibration=calibration,
        training_data={"summary": "random weights for tests"},
        licence="test only",
        limits="random weights: scores mean nothing",
    )
    return write_card(spec, folder / f"meso4-test-{version}.json")
