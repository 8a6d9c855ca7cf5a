"""The Meso-4 port: same numbers as the Keras model, the published test crops scored as the
MesoNet authors report, and `manage.py import_meso4` writing and registering its card."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from PIL import Image

from detection.registry import sha256_file, spec_from_card
from tests.data_path import data_file
from tests.detection.conftest import MESO4_DF_SHA256


def _crop(path: Path) -> np.ndarray:
    # Keras' load_img(target_size=...) resizes with nearest neighbour by default.
    return np.asarray(Image.open(path).convert("RGB").resize((256, 256), Image.Resampling.NEAREST))


def _keras_reference(h5_path: Path, rgb: np.ndarray) -> float:
    """Meso-4 exactly as Keras computes it, in numpy, straight from the HDF5 weights:
    channels-last convolutions, epsilon 1e-3, flatten in (H, W, C) order."""
    import h5py

    def weights(h5: h5py.File, layer: str, name: str) -> np.ndarray:
        return np.asarray(h5[layer][layer][f"{name}:0"], dtype=np.float64)

    def conv_relu(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray) -> np.ndarray:
        pad = kernel.shape[0] // 2
        padded = np.pad(x, ((pad, pad), (pad, pad), (0, 0)))
        windows = np.lib.stride_tricks.sliding_window_view(padded, kernel.shape[:2], axis=(0, 1))
        return np.maximum(np.einsum("hwcij,ijco->hwo", windows, kernel) + bias, 0)

    def pool(x: np.ndarray, size: int) -> np.ndarray:
        h, w, c = x.shape
        return x.reshape(h // size, size, w // size, size, c).max(axis=(1, 3))

    x = rgb.astype(np.float64) / 255.0
    with h5py.File(h5_path, "r") as h5:
        for n, size in ((5, 2), (6, 2), (7, 2), (8, 4)):
            x = conv_relu(
                x, weights(h5, f"conv2d_{n}", "kernel"), weights(h5, f"conv2d_{n}", "bias")
            )
            bn = f"batch_normalization_{n}"
            x = (x - weights(h5, bn, "moving_mean")) / np.sqrt(
                weights(h5, bn, "moving_variance") + 1e-3
            ) * weights(h5, bn, "gamma") + weights(h5, bn, "beta")
            x = pool(x, size)
        x = x.reshape(-1) @ weights(h5, "dense_3", "kernel") + weights(h5, "dense_3", "bias")
        x = np.where(x > 0, x, 0.1 * x)
        logit = x @ weights(h5, "dense_4", "kernel") + weights(h5, "dense_4", "bias")
    return float(1 / (1 + np.exp(-logit[0])))


def test_meso4_weights_are_the_published_ones(meso4_h5):
    assert sha256_file(meso4_h5) == MESO4_DF_SHA256


def test_meso4_port_matches_the_keras_computation(meso4_h5, meso4):
    crop = _crop(data_file("detector", "meso4", "test_images", "df", "df00204.jpg"))
    raw_fake, _ = meso4.score(crop[None])
    assert 1 - raw_fake[0] == pytest.approx(_keras_reference(meso4_h5, crop), abs=1e-5)


def test_meso4_scores_deepfake_crops_below_0_1_and_real_crops_above_0_9(meso4_h5, meso4):
    # The published weights' accuracy: meso4_h5 skips where they are not configured.
    folder = data_file("detector", "meso4", "test_images")
    for kind in ("df", "real"):
        paths = sorted((folder / kind).glob("*.jpg"))
        assert len(paths) == 2
        raw_fake, calibrated = meso4.score(np.stack([_crop(p) for p in paths]))
        real_prob = 1 - raw_fake  # Meso-4's own output: 1 = real
        if kind == "df":
            assert (real_prob < 0.1).all(), dict(
                zip([p.name for p in paths], real_prob, strict=True)
            )
        else:
            assert (real_prob > 0.9).all(), dict(
                zip([p.name for p in paths], real_prob, strict=True)
            )
        # No calibration on the card: the pipeline's probability is the raw one.
        np.testing.assert_allclose(calibrated, raw_fake)


def test_meso4_card_states_output_licence_limits_and_no_measured_auc(meso4_card):
    card = json.loads(meso4_card.read_text())
    spec = spec_from_card(meso4_card)
    assert card["checkpoint_path"] == "model.safetensors"  # relative: the folder can move
    assert spec.architecture == "meso4"
    assert spec.output == "real_prob"
    assert spec.input_size == 256
    assert "Apache-2.0" in spec.licence
    assert "misses most StyleGAN and diffusion images" in spec.limits
    assert spec.metrics["auc"] is None
    assert "not measured on an agency held-out set" in spec.metrics["note"]
    assert spec.training_data["source_sha256"] == MESO4_DF_SHA256
    assert spec.checkpoint_sha256 == sha256_file(spec.checkpoint_path)


@pytest.mark.django_db
def test_import_meso4_command_writes_the_checkpoint_and_registers_the_detector(
    meso4_h5, tmp_path, capsys
):
    from detection.models import DetectorVersion

    out = tmp_path / "meso4_df"
    call_command("import_meso4", str(meso4_h5), "--out", str(out))
    printed = capsys.readouterr().out
    spec = spec_from_card(out / "card.json")
    assert spec.checkpoint_sha256 in printed
    assert "registered legacy meso4_df" in printed and "(inactive)" in printed
    version = DetectorVersion.objects.get(key="meso4_df", version=spec.version)
    # A legacy baseline: registered for comparison, never the active detector.
    assert version.legacy and not version.active and not version.gates_passed
    assert version.checkpoint_sha256 == spec.checkpoint_sha256


def test_import_meso4_refuses_a_file_that_is_not_keras_weights(tmp_path):
    from django.core.management.base import CommandError

    bogus = tmp_path / "weights.h5"
    bogus.write_bytes(b"not an HDF5 file")
    with pytest.raises(CommandError, match="cannot import"):
        call_command("import_meso4", str(bogus), "--out", str(tmp_path / "out"), "--no-register")
