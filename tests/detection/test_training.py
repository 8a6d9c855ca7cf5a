"""`train_detector` then `evaluate_detector` end to end on a tiny folder built here, and the
numpy metrics they report."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from PIL import Image, ImageDraw

from detection.evaluation import (
    auc,
    bootstrap_auc_ci,
    cross_fitted_ece,
    equal_error_rate,
    expected_calibration_error,
    platt_fit,
    roc_curve,
)
from detection.registry import ChecksumMismatch, load_detector, sha256_file, spec_from_card
from tests.detection.conftest import require_detection_stack


def _picture(rng: np.random.Generator, fake: bool, size: int = 96) -> Image.Image:
    """A drawn 'face' on a gradient; fakes carry a periodic high-frequency pattern, the
    kind of upsampling artefact detectors learn."""
    x = np.linspace(0, 1, size)[None, :, None]
    y = np.linspace(0, 1, size)[:, None, None]
    tint = rng.uniform(0.2, 0.8, 3)[None, None, :]
    rgb = 255 * (0.5 * x + 0.3 * y + 0.2 * tint)
    image = Image.fromarray(rgb.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    cx, cy, r = size // 2 + rng.integers(-6, 7), size // 2 + rng.integers(-6, 7), size // 3
    draw.ellipse((cx - r, cy - r * 1.2, cx + r, cy + r * 1.2), fill=(224, 172, 140))
    for ex in (cx - r // 2, cx + r // 3):
        draw.ellipse((ex, cy - r // 3, ex + 6, cy - r // 3 + 4), fill=(40, 30, 30))
    draw.line((cx - r // 3, cy + r // 2, cx + r // 3, cy + r // 2), fill=(150, 60, 60), width=2)
    array = np.asarray(image).astype(np.int16)
    if fake:
        checker = ((np.indices((size, size)).sum(axis=0) % 2) * 2 - 1)[..., None] * 24
        array = array + checker
    return Image.fromarray(np.clip(array, 0, 255).astype(np.uint8))


def _build_folder(root: Path, *, per_class: int, seed: int) -> Path:
    rng = np.random.default_rng(seed)
    for label in ("real", "fake"):
        (root / label).mkdir(parents=True)
        for i in range(per_class):
            _picture(rng, label == "fake").save(root / label / f"{label}{i:02d}.png")
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory):  # type: ignore[no-untyped-def]
    """Train once for the module: 12 real + 12 fake, one epoch at 64 px (seconds on CPU)."""
    from io import StringIO

    require_detection_stack()
    base = tmp_path_factory.mktemp("training")
    data = _build_folder(base / "data", per_class=12, seed=1)
    out = base / "model"
    stdout = StringIO()
    call_command(
        "train_detector", str(data), "--out", str(out), "--epochs", "1", "--input-size", "64",
        "--batch-size", "8", "--arch", "efficientnet_lite0", "--device", "cpu",
        "--key", "test-lite0", "--detector-version", "t1", "--no-register", "--force",
        stdout=stdout,
    )  # fmt: skip
    eval_data = _build_folder(base / "eval", per_class=8, seed=2)
    eval_out = base / "evaluation"
    eval_stdout = StringIO()
    call_command(
        "evaluate_detector", str(eval_data), "--card", str(out / "card.json"),
        "--out", str(eval_out), "--bootstrap", "200", "--device", "cpu", stdout=eval_stdout,
    )  # fmt: skip
    return {
        "data": data, "out": out, "stdout": stdout.getvalue(),
        "eval_out": eval_out, "eval_stdout": eval_stdout.getvalue(), "base": base,
    }  # fmt: skip


def test_train_detector_writes_a_checkpoint_and_a_card_naming_its_hash(trained):
    checkpoint, card_path = trained["out"] / "model.safetensors", trained["out"] / "card.json"
    assert checkpoint.is_file() and card_path.is_file()
    spec = spec_from_card(card_path)
    assert spec.checkpoint_sha256 == sha256_file(checkpoint)
    assert (spec.key, spec.version, spec.architecture) == ("test-lite0", "t1", "efficientnet_lite0")
    assert spec.input_size == 64 and spec.output == "fake_prob"
    assert spec.checkpoint_sha256 in trained["stdout"]
    assert "epoch 1/1" in trained["stdout"]


def test_card_records_training_data_calibration_metrics_and_licence(trained):
    card = json.loads((trained["out"] / "card.json").read_text())
    data = card["training_data"]
    assert data["counts"] == {"real": 12, "fake": 12}
    assert len(data["file_list_sha256"]) == 64
    assert data["train_images"] + data["held_out_images"] == 24
    assert data["held_out_images"] == 6  # a quarter of each class
    assert data["date"]
    assert card["calibration"]["method"] == "platt"
    assert all(math.isfinite(card["calibration"][k]) for k in ("a", "b"))
    metrics = card["metrics"]
    assert 0 <= metrics["auc"] <= 1 and metrics["n_eval"] == 6
    assert metrics["auc_ci"][0] <= metrics["auc"] <= metrics["auc_ci"][1]
    assert 0 <= metrics["eer"] <= 1
    assert "very uncertain" in metrics["warning"]
    assert "no licence declared" in card["licence"]
    assert "held-out share of the same folder" in card["limits"]


def test_checkpoint_hash_is_verified_at_load_and_a_tampered_one_is_refused(trained):
    spec = spec_from_card(trained["out"] / "card.json")
    loaded = load_detector(spec, "cpu")
    assert loaded.spec.checkpoint_sha256 == spec.checkpoint_sha256
    tampered_dir = trained["base"] / "tampered"
    shutil.copytree(trained["out"], tampered_dir)
    checkpoint = tampered_dir / "model.safetensors"
    data = bytearray(checkpoint.read_bytes())
    data[-1] ^= 0x01  # one bit of one weight
    checkpoint.write_bytes(bytes(data))
    with pytest.raises(ChecksumMismatch, match="refusing to load"):
        load_detector(spec_from_card(tampered_dir / "card.json"), "cpu")


def test_evaluate_detector_prints_auc_with_ci_eer_ece_and_saves_plots(trained):
    printed = trained["eval_stdout"]
    assert "AUC" in printed and "95% CI" in printed and "EER" in printed and "ECE" in printed
    for name in ("roc.png", "reliability.png"):
        path = trained["eval_out"] / name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert Image.open(path).size[0] >= 300
    metrics = json.loads((trained["eval_out"] / "metrics.json").read_text())
    assert metrics["n_eval"] == 16 and metrics["n_fake"] == 8
    assert metrics["score_kind"] == "calibrated_probability"  # Platt fitted on held-out data
    assert metrics["auc_ci"][0] <= metrics["auc"] <= metrics["auc_ci"][1]


@pytest.mark.django_db
def test_the_trained_card_registers_as_a_detector_version(trained):
    from detection.services.detectors import detector_register

    version = detector_register(card_path=trained["out"] / "card.json", force=True)
    assert (version.key, version.version) == ("test-lite0", "t1")
    assert version.checkpoint_sha256 == sha256_file(trained["out"] / "model.safetensors")
    # 3 held-out images per class: registered (forced) with the failure, never active.
    assert not version.gates_passed and not version.active
    assert "held_out_per_class" in version.gate_failures


def test_train_detector_refuses_a_folder_without_both_classes(tmp_path):
    (tmp_path / "real").mkdir()
    _picture(np.random.default_rng(0), False).save(tmp_path / "real" / "a.png")
    with pytest.raises(CommandError, match=r"both real/ and fake/"):
        call_command("train_detector", str(tmp_path), "--out", str(tmp_path / "o"), "--no-register")


# ---------------------------------------------------------------- metrics


def test_auc_counts_ties_as_half_and_matches_pairwise_counting():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)
    scores = np.round(rng.normal(size=300) + labels, 1)  # many ties
    fake, real = scores[labels == 1], scores[labels == 0]
    pairwise = ((fake[:, None] > real).sum() + 0.5 * (fake[:, None] == real).sum()) / (
        len(fake) * len(real)
    )
    assert auc(labels, scores) == pytest.approx(pairwise)
    fpr, tpr, _ = roc_curve(labels, scores)
    assert float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2)) == pytest.approx(pairwise)


def test_bootstrap_interval_contains_the_auc_and_narrows_with_more_data():
    rng = np.random.default_rng(1)
    small = rng.integers(0, 2, 40)
    large = rng.integers(0, 2, 2000)
    s_small, s_large = rng.normal(size=40) + small, rng.normal(size=2000) + large
    lo_s, hi_s = bootstrap_auc_ci(small, s_small, n_boot=300)
    lo_l, hi_l = bootstrap_auc_ci(large, s_large, n_boot=300)
    assert lo_s <= auc(small, s_small) <= hi_s
    assert hi_l - lo_l < hi_s - lo_s


def test_equal_error_rate_of_perfect_and_useless_scores():
    labels = np.array([0, 0, 1, 1])
    assert equal_error_rate(labels, np.array([0.1, 0.2, 0.8, 0.9])) == 0.0
    assert equal_error_rate(labels, np.array([0.9, 0.8, 0.2, 0.1])) == 1.0
    assert equal_error_rate(labels, np.array([0.5, 0.5, 0.5, 0.5])) == pytest.approx(0.5)


def test_ece_is_zero_when_stated_probabilities_match_observed_rates():
    labels = np.array([1] * 3 + [0] * 7 + [1] * 9 + [0] * 1)
    probabilities = np.array([0.3] * 10 + [0.9] * 10)
    assert expected_calibration_error(labels, probabilities) == pytest.approx(0.0)
    assert expected_calibration_error(labels, np.full(20, 0.99)) > 0.3


def test_platt_scaling_recovers_a_known_logistic_relation():
    rng = np.random.default_rng(2)
    z = rng.normal(scale=3, size=4000)
    labels = (rng.random(4000) < 1 / (1 + np.exp(-(0.5 * z - 1)))).astype(int)
    a, b = platt_fit(z, labels)
    assert a == pytest.approx(0.5, abs=0.06) and b == pytest.approx(-1, abs=0.12)
    ece = cross_fitted_ece(z, labels)
    assert ece is not None and ece < 0.05


def test_platt_scaling_stays_finite_on_perfectly_separable_scores():
    a, b = platt_fit(np.array([-5.0, -4, -3, 3, 4, 5]), np.array([0, 0, 0, 1, 1, 1]))
    assert math.isfinite(a) and math.isfinite(b) and a > 0


# ---------------------------------------------------------------- small folders and gates


def test_train_detector_with_defaults_refuses_a_small_folder_with_a_clear_message(tmp_path):
    """Reproduces the finding: with the defaults, 12 + 12 images crashed in OneCycleLR
    (ZeroDivisionError, a traceback). Now: a CommandError before any training."""
    require_detection_stack()
    data = _build_folder(tmp_path / "data", per_class=12, seed=3)
    with pytest.raises(CommandError, match="too small") as refused:
        call_command("train_detector", str(data), "--out", str(tmp_path / "o"), "--device", "cpu")
    message = str(refused.value)
    assert "12 real and 12 fake" in message and "at least 50 of each" in message
    assert "--force" in message
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("total_steps", range(1, 31))
def test_the_learning_rate_schedule_survives_any_number_of_steps(total_steps):
    require_detection_stack()
    import torch

    from detection.training import learning_rate_schedule

    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([parameter], lr=3e-4)
    schedule = learning_rate_schedule(optimizer, lr=3e-4, total_steps=total_steps)
    for _ in range(total_steps):
        optimizer.step()
        schedule.step()
    assert 0 < optimizer.param_groups[0]["lr"] <= 3e-4 * 1.0001


def test_a_forced_small_model_states_its_gate_failures_and_counts_on_its_card(trained):
    card = json.loads((trained["out"] / "card.json").read_text())
    gates = card["gates"]
    assert gates["passed"] is False and "held_out_per_class" in gates["failed"]
    result = next(r for r in gates["results"] if r["name"] == "held_out_per_class")
    assert result["value"] == 3 and result["threshold"] == ">= 50"
    assert card["metrics"]["warning"].startswith("only 6 held-out images (3 fake, 3 real)")
    assert card["calibration"]["fitted_on"] == "held_out" and card["calibration"]["n_fit"] == 6
    assert "raw_score_std" in card["metrics"]
    assert "gate held_out_per_class: 3.0 (needs >= 50) FAIL" in trained["stdout"]


@pytest.mark.django_db
def test_register_detector_refuses_a_gate_failing_card_and_force_keeps_it_inactive(trained):
    from io import StringIO

    from detection.models import DetectorVersion

    card = str(trained["out"] / "card.json")
    with pytest.raises(CommandError, match="fails its quality gates"):
        call_command("register_detector", card, stdout=StringIO())
    assert not DetectorVersion.objects.exists()
    err = StringIO()
    call_command("register_detector", card, "--force", stdout=StringIO(), stderr=err)
    version = DetectorVersion.objects.get()
    assert not version.active and not version.gates_passed
    assert "quality gates failed, not activated: held_out_per_class 3" in err.getvalue()
