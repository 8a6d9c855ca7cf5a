"""Fixtures of the detection pipeline tests: a Meso-4 detector imported once per session
from the configured weights (AG_MESO4_WEIGHTS, or ../shared/data; checked against their SHA-256), and small media
built in memory."""

from __future__ import annotations

import importlib.util
import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.data_path import data_file

IN_CI = os.getenv("CI", "").lower() in ("1", "true")
MESO4_DF_SHA256 = "036ed30d04ffd9c7506f825b97c86aa64915f5818931da96817b169aad790af5"


def require_detection_stack() -> None:
    """Skip a module when the detection extra is not installed (fail in CI, where
    scripts/setup.sh installs it)."""
    needed = ("torch", "timm", "safetensors", "onnxruntime", "av", "h5py", "matplotlib")
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if not missing:
        return
    reason = f"detection extra not installed (missing {', '.join(missing)}): run scripts/setup.sh"
    if IN_CI:
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


# Model weights are not kept in the repository: they come from a configured path, or from
# ../shared/data beside the clone in development (tests/data/README.md).
MESO4_WEIGHTS_ENV = "AG_MESO4_WEIGHTS"
MESO4_SHARED = ("shared", "data", "detector", "meso4", "weights", "Meso4_DF.h5")


def meso4_weights_path() -> Path | None:
    configured = os.environ.get(MESO4_WEIGHTS_ENV)
    if configured:
        return Path(configured)
    shared = Path(__file__).resolve().parents[3].joinpath(*MESO4_SHARED)
    return shared if shared.is_file() else None


@pytest.fixture(scope="session")
def meso4_h5() -> Path:
    require_detection_stack()
    path = meso4_weights_path()
    if path is None:
        pytest.skip(
            f"Meso-4 weights are not in the repository: set {MESO4_WEIGHTS_ENV} to "
            "Meso4_DF.h5, or keep ../shared/data beside the clone"
        )
    if not path.is_file():
        raise FileNotFoundError(f"{MESO4_WEIGHTS_ENV}={path} is not a file")
    return path


@pytest.fixture(scope="session")
def meso4_card(meso4_h5: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from detection.nets.meso4_weights import meso4_import  # heavy: detection extra

    return meso4_import(meso4_h5, tmp_path_factory.mktemp("meso4_df"))


@pytest.fixture(scope="session")
def meso4(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """A loaded Meso-4 for the pipeline tests: the published weights where they are
    configured, otherwise the same network with fixed random weights (the pipeline's
    behaviour, not the model's accuracy, is what these tests check)."""
    from detection.registry import load_detector, spec_from_card

    if meso4_weights_path() is not None:
        card = request.getfixturevalue("meso4_card")
    else:
        require_detection_stack()
        from tests.detection.workflow_fixtures import make_detector_card

        card = make_detector_card(tmp_path_factory.mktemp("meso4_random"))
    return load_detector(spec_from_card(card), "cpu")


@pytest.fixture(scope="session")
def obama_jpeg() -> bytes:
    return data_file("faces", "real", "obama.jpg").read_bytes()


@pytest.fixture(scope="session")
def obama_image(obama_jpeg: bytes) -> Image.Image:
    return Image.open(io.BytesIO(obama_jpeg)).convert("RGB")


def jpeg_of(image: Image.Image, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format="JPEG", quality=90, **options)
    return out.getvalue()


def face_video(
    face: Image.Image,
    *,
    frames: int = 16,
    fps: int = 8,
    gop: int = 4,
    size: tuple[int, int] = (320, 180),
) -> bytes:
    """A Matroska/MPEG-4 clip of a face drifting sideways, built with PyAV in memory."""
    import av

    still = face.resize(size)
    out = io.BytesIO()
    with av.open(out, "w", format="matroska") as container:
        stream = container.add_stream("mpeg4", rate=fps)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.codec_context.gop_size = gop
        for i in range(frames):
            moved = still.transform(size, Image.Transform.AFFINE, (1, 0, i, 0, 1, 0))
            for packet in stream.encode(av.VideoFrame.from_image(moved)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()


@pytest.fixture(scope="session")
def obama_video(obama_image: Image.Image) -> bytes:
    require_detection_stack()
    return face_video(obama_image)


def gradient_jpeg(size: tuple[int, int] = (640, 480)) -> bytes:
    """A plain gradient: nothing that looks like a face."""
    x = np.linspace(0, 255, size[0], dtype=np.float32)[None, :]
    y = np.linspace(0, 255, size[1], dtype=np.float32)[:, None]
    rgb = np.stack(
        [
            np.broadcast_to(x, (size[1], size[0])),
            np.broadcast_to(y, (size[1], size[0])),
            np.full((size[1], size[0]), 128.0),
        ],
        axis=-1,
    )
    return jpeg_of(Image.fromarray(rgb.astype(np.uint8)))
