"""Quality gates: what "calibrated" means, and that a model failing a gate (a constant one
above all) can never be activated, by the command, the service, the admin or the database."""

from __future__ import annotations

from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction
from django.urls import reverse

from detection.gates import GateThresholds, calibration_fitted, evaluate_gates, gates_report
from detection.models import DetectorVersion
from tests.detection.conftest import require_detection_stack
from tests.detection.factories import detector_version, passing_card_fields


def test_only_a_platt_calibration_fitted_on_held_out_data_is_calibrated():
    fitted = {"method": "platt", "a": 1.2, "b": -0.3, "fitted_on": "held_out", "n_fit": 120}
    assert calibration_fitted({"calibration": fitted})
    assert not calibration_fitted({"calibration": {"method": "none"}})
    assert not calibration_fitted({})
    assert not calibration_fitted({"calibration": {**fitted, "fitted_on": "training"}})
    assert not calibration_fitted({"calibration": {**fitted, "n_fit": 0}})
    without = dict(fitted)
    del without["fitted_on"]
    assert not calibration_fitted({"calibration": without})


def test_every_gate_passes_on_a_good_card_and_each_threshold_is_configurable():
    card = passing_card_fields()
    assert all(r.passed for r in evaluate_gates(card, GateThresholds()))
    strict = GateThresholds(min_per_class=500, auc_ci_floor=0.95, min_score_std=0.5, slope_max=0.5)
    assert [r.name for r in evaluate_gates(card, strict) if not r.passed] == [
        "held_out_per_class",
        "auc_ci_lower",
        "score_spread",
        "calibration_slope",
    ]


@pytest.mark.parametrize("slope", [-1.0, 0.0, 0.01, 50.0])
def test_a_negative_zero_or_extreme_calibration_slope_fails(slope: float):
    card = passing_card_fields()
    card["calibration"]["a"] = slope
    report = gates_report(card, GateThresholds())
    assert report["failed"] == ["calibration_slope"]


def test_an_unmeasured_card_fails_every_gate_with_not_measured():
    results = evaluate_gates({}, GateThresholds())
    assert not any(r.passed for r in results)
    assert all(r.value is None for r in results)


@pytest.fixture
def constant_card(tmp_path: Path) -> Path:
    """A Meso-4 whose weights are all zero (its output is the same for every input),
    measured on 60 + 60 held-out crops through the same code train_detector uses."""
    require_detection_stack()
    import torch

    from detection.nets.meso4 import Meso4
    from detection.registry import DetectorSpec, load_detector, save_checkpoint, write_card
    from detection.training import held_out_measurements

    model = Meso4()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.zero_()
    checkpoint = tmp_path / "constant.safetensors"
    spec = DetectorSpec(
        key="constant",
        version="1",
        architecture="meso4",
        checkpoint_path=str(checkpoint),
        checkpoint_sha256=save_checkpoint(model, checkpoint),
        input_size=256,
        mean=(0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0),
        output="fake_prob",
    )
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 256, size=(120, 256, 256, 3), dtype=np.uint8)
    labels = np.r_[np.ones(60), np.zeros(60)].astype(np.int64)
    logits = load_detector(spec, "cpu").fake_logits(crops)
    assert np.ptp(logits) == 0  # constant output, really
    calibration, metrics = held_out_measurements(logits, labels, seed=0)
    from dataclasses import replace

    return write_card(
        replace(spec, calibration=calibration, metrics=metrics), tmp_path / "constant.json"
    )


@pytest.mark.django_db
def test_a_constant_output_model_can_never_be_activated(constant_card: Path) -> None:
    from detection.services.detectors import (
        DetectorActivationError,
        DetectorRegistrationError,
        detector_activate,
        detector_register,
    )

    with pytest.raises(DetectorRegistrationError, match="score_spread 0 "):
        detector_register(card_path=constant_card)
    with pytest.raises(CommandError, match="fails its quality gates"):
        call_command("register_detector", str(constant_card), stdout=StringIO())
    version = detector_register(card_path=constant_card, force=True)
    assert not version.active and not version.gates_passed
    assert "score_spread" in version.gate_failures
    spread = next(g for g in version.gate_results if g["name"] == "score_spread")
    assert spread["value"] == 0.0 and spread["detail"] == "constant output"
    with pytest.raises(DetectorActivationError, match="fails its quality gates"):
        detector_activate(version=version)
    with pytest.raises(IntegrityError), transaction.atomic():
        DetectorVersion.objects.filter(pk=version.pk).update(active=True)
    version.refresh_from_db()
    assert not version.active


@pytest.mark.django_db
def test_the_admin_refuses_to_activate_a_gate_failing_or_legacy_model(admin_client: Any) -> None:
    failing = detector_version(key="small", card={**passing_card_fields(n_per_class=4)})
    legacy = detector_version(key="meso4", card=passing_card_fields(), legacy=True, sha="cd" * 32)
    good = detector_version(key="good", sha="ef" * 32, active=False)
    url = reverse("admin:detection_detectorversion_changelist")
    for version in (failing, legacy):
        response = admin_client.post(
            url, {"action": "activate", "_selected_action": [version.pk]}, follow=True
        )
        assert "cannot be activated" in response.content.decode()
        version.refresh_from_db()
        assert not version.active
    admin_client.post(url, {"action": "activate", "_selected_action": [good.pk]})
    good.refresh_from_db()
    assert good.active


@pytest.mark.django_db
def test_stricter_thresholds_take_an_active_model_out_of_use_on_activation(settings: Any) -> None:
    from detection.services.detectors import DetectorActivationError, detector_activate

    version = detector_version(active=False)
    settings.DETECTION_GATE_MIN_PER_CLASS = 1000
    with pytest.raises(DetectorActivationError, match="held_out_per_class 206"):
        detector_activate(version=version)
    version.refresh_from_db()
    assert not version.gates_passed and version.card["gates"]["thresholds"]["min_per_class"] == 1000


@pytest.mark.django_db(transaction=True)
def test_the_migration_retires_an_active_meso4_and_names_its_old_numbers_raw() -> None:
    """A deployment that ran import_meso4 before issue 9 has Meso-4 active and runs whose
    numbers were shown as calibrated: after the migration it is legacy and inactive, the
    results of its gates are on its card, and its runs' numbers are raw scores."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    from cases.evidence.models import Evidence
    from cases.kernel.models import Agency

    executor = MigrationExecutor(connection)
    executor.migrate([("detection", "0001_initial")])
    old = executor.loader.project_state([("detection", "0001_initial")]).apps
    agency = Agency.objects.create(name="Old Agency", slug="old-agency")
    evidence = Evidence.objects.create(
        agency=agency, sha256="12" * 32, size=3, media_type="image/png", kind="screenshot"
    )
    OldVersion = old.get_model("detection", "DetectorVersion")
    OldRun = old.get_model("detection", "DetectionRun")
    meso = OldVersion.objects.create(
        key="meso4_df",
        version="keras-036ed30d04ff",
        architecture="meso4",
        checkpoint_path="/m.safetensors",
        checkpoint_sha256="cd" * 32,
        card={"calibration": {"method": "none"}, "training_data": {"source_sha256": "03" * 32}},
        active=True,
    )
    OldRun.objects.create(
        agency_id=agency.pk,
        evidence_id=evidence.pk,
        detector_version=meso,
        status="done",
        item_probability=0.97,
        checkpoint_sha256="cd" * 32,
    )
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())
    version = DetectorVersion.objects.get(pk=meso.pk)
    assert version.legacy and not version.active and not version.gates_passed
    assert version.card["gates"]["passed"] is False
    run = version.runs.get()
    assert run.score_calibrated is False and run.item_probability == 0.97
