"""The published Meso-4 weights and their import: Keras HDF5 in, a safetensors checkpoint
and a registry card out (detection.registry). Kept apart from the network (nets.meso4),
which the registry builds: the registry imports the network, this module imports both."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from detection.nets.meso4 import INPUT_SIZE, Meso4, state_dict_from_keras_h5
from detection.registry import DetectorSpec, save_checkpoint, sha256_file, write_card

# The two published Meso-4 weight files, by SHA-256 of the HDF5 file.
KNOWN_WEIGHTS = {
    "036ed30d04ffd9c7506f825b97c86aa64915f5818931da96817b169aad790af5": (
        "meso4_df",
        "face crops from 2018-era Deepfake (face-swap) videos collected by the MesoNet authors",
    ),
    "bcfda015d217b9f8d6557693edbdf9f4e79cfd22672541968dd0e2954462b5d7": (
        "meso4_f2f",
        "face crops from 2018-era Face2Face (facial reenactment) videos collected by the "
        "MesoNet authors",
    ),
}
MESO4_LICENCE = (
    "Apache-2.0 (MesoNet, Darius Afchar, Vincent Nozick et al., 2018; "
    "github.com/DariusAf/MesoNet: keep its LICENSE and NOTICE with the weights)"
)
MESO4_LIMITS = (
    "2018 face-swap baseline: misses most StyleGAN and diffusion images. Trained on "
    "low-resolution video face crops; compression, resizing and modern generators move its "
    "scores unpredictably. Not calibrated and not measured on an agency held-out set: treat "
    "its number as a legacy hint, never as evidence on its own."
)


def meso4_import(h5_path: str | Path, out_dir: str | Path, *, key: str = "") -> Path:
    """Convert Keras Meso-4 weights to `out_dir/model.safetensors` plus `card.json`;
    returns the card's path. The checkpoint is not the h5 file: it never enters git."""
    h5_path, out_dir = Path(h5_path), Path(out_dir)
    source_sha = sha256_file(h5_path)
    known_key, description = KNOWN_WEIGHTS.get(source_sha, ("", ""))
    model = Meso4()
    model.load_state_dict(state_dict_from_keras_h5(h5_path), strict=True)
    checkpoint = out_dir / "model.safetensors"
    checkpoint_sha = save_checkpoint(model, checkpoint)
    spec = DetectorSpec(
        key=key or known_key or "meso4",
        version=f"keras-{source_sha[:12]}",
        architecture="meso4",
        checkpoint_path=str(checkpoint.resolve()),
        checkpoint_sha256=checkpoint_sha,
        input_size=INPUT_SIZE,
        mean=(0.0, 0.0, 0.0),
        std=(1.0, 1.0, 1.0),  # Keras input: RGB scaled to [0, 1]
        output="real_prob",
        calibration={"method": "none"},
        metrics={
            "auc": None,
            "auc_ci": None,
            "eer": None,
            "ece": None,
            "n_eval": 0,
            "note": "not measured on an agency held-out set",
        },
        training_data={
            "description": description or "unknown Meso-4 weights (hash not recognised)",
            "source": "github.com/DariusAf/MesoNet",
            "source_file": h5_path.name,
            "source_sha256": source_sha,
        },
        licence=MESO4_LICENCE,
        limits=MESO4_LIMITS,
        crop_margin=1.3,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        notes="PyTorch port of the Keras model; output 1 = real (the pipeline reports P(fake)).",
        legacy=True,
    )
    return write_card(spec, out_dir / "card.json")
