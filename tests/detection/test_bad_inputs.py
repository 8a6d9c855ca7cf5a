"""Bad input never takes the worker down: each case ends in a clear status (or a clear
refusal to load a model), and the very next call on good input still works."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

from detection.pipeline import analyze
from detection.registry import ChecksumMismatch, LoadedDetector, load_detector
from tests.detection.conftest import face_video, gradient_jpeg, jpeg_of

torch = pytest.importorskip("torch", reason="detection extra not installed: run scripts/setup.sh")


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG header announcing a huge image (the decompression-bomb shape)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"") + chunk(b"IEND", b"")


def _tiled_faces(image: Image.Image, count: int = 50) -> bytes:
    face = image.crop((340, 0, 540, 230)).resize((100, 115))
    grid = Image.new("RGB", (1000, 115 * ((count + 9) // 10)), "white")
    for i in range(count):
        grid.paste(face, ((i % 10) * 100, (i // 10) * 115))
    return jpeg_of(grid)


def _wide_frame(image: Image.Image) -> bytes:
    wide = Image.new("RGB", (12_000, 1_000), (90, 120, 150))
    wide.paste(image.resize((1706, 960)), (6000, 20))
    return jpeg_of(wide)


class _NaNNet(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.full((x.shape[0], 1), float("nan"))


def _case_corrupt_image(ctx: dict) -> dict:
    good = ctx["jpeg"]
    corrupt = good[:600] + bytes(range(256)) * 8  # valid header, garbage body
    result = analyze(corrupt, detector=ctx["meso4"], media_type="image/jpeg")
    return {"status": result.status, "message": result.message}


def _case_truncated_jpeg(ctx: dict) -> dict:
    result = analyze(ctx["jpeg"][: len(ctx["jpeg"]) // 2], detector=ctx["meso4"])
    return {"status": result.status, "message": result.message}


def _case_not_media(ctx: dict) -> dict:
    result = analyze(b"%PDF-1.7 definitely not a picture" * 10, detector=ctx["meso4"])
    return {"status": result.status, "message": result.message}


def _case_empty_file(ctx: dict) -> dict:
    result = analyze(b"", detector=ctx["meso4"])
    return {"status": result.status, "message": result.message}


def _case_pixel_bomb(ctx: dict) -> dict:
    result = analyze(_png_claiming(100_000, 100_000), detector=ctx["meso4"])
    return {"status": result.status, "message": result.message}


def _case_truncated_video_without_index(ctx: dict) -> dict:
    video = ctx["video"]
    result = analyze(
        video[: len(video) // 10], detector=ctx["meso4"], media_type="video/x-matroska"
    )
    return {"status": result.status, "message": result.message}


def _case_truncated_video_keeps_the_frames_it_read(ctx: dict) -> dict:
    video = ctx["video"]
    result = analyze(video[: int(len(video) * 0.7)], detector=ctx["meso4"], max_frames=8)
    assert 0 < result.frames_analyzed < 8
    assert any("truncated" in w or "stopped" in w for w in result.warnings), result.warnings
    return {"status": result.status, "message": result.message}


def _case_zero_faces(ctx: dict) -> dict:
    result = analyze(gradient_jpeg(), detector=ctx["meso4"])
    return {"status": result.status, "message": result.message}


def _case_fifty_faces(ctx: dict) -> dict:
    result = analyze(_tiled_faces(ctx["image"]), detector=ctx["meso4"])
    assert result.faces_found >= 45  # a few tiles may merge or fall under the threshold
    assert len(result.faces) == 16
    assert result.faces_skipped == result.faces_found - 16
    assert result.item_probability is not None
    return {"status": result.status, "message": " ".join(result.warnings)}


def _case_12000_pixel_wide_frame(ctx: dict) -> dict:
    result = analyze(_wide_frame(ctx["image"]), detector=ctx["meso4"])
    assert (result.width, result.height) == (12_000, 1_000)
    [face] = result.faces
    assert 6000 + 389 * 2 - 60 < face.bbox[0] < 6000 + 389 * 2 + 60  # original coordinates
    return {"status": result.status, "message": result.message}


def _case_wrong_checkpoint_hash(ctx: dict) -> dict:
    spec = replace(ctx["meso4"].spec, checkpoint_sha256="0" * 64)
    with pytest.raises(ChecksumMismatch) as caught:
        load_detector(spec, "cpu")
    return {"status": "refused", "message": str(caught.value)}


def _case_model_returns_nan(ctx: dict) -> dict:
    meso4: LoadedDetector = ctx["meso4"]
    broken = LoadedDetector(
        spec=meso4.spec, model=_NaNNet(), device="cpu", precision="fp32",
        channels_last=False, batch_size=8,
    )  # fmt: skip
    result = analyze(ctx["jpeg"], detector=broken)
    assert result.item_probability is None
    assert all(face.probability is None for face in result.faces)
    return {"status": result.status, "message": result.message}


CASES: list[tuple[str, Callable[[dict], dict], str, str]] = [
    ("corrupt image", _case_corrupt_image, "decode_error", "corrupt or truncated"),
    ("truncated image", _case_truncated_jpeg, "decode_error", "corrupt or truncated"),
    ("not an image or video", _case_not_media, "unsupported", "not a recognised image or video"),
    ("empty file", _case_empty_file, "decode_error", "empty"),
    ("decompression bomb", _case_pixel_bomb, "decode_error", "megapixels"),
    ("truncated video, index lost", _case_truncated_video_without_index, "decode_error", "video"),
    (
        "truncated video, frames kept",
        _case_truncated_video_keeps_the_frames_it_read,
        "ok",
        "scored",
    ),
    ("zero faces", _case_zero_faces, "no_faces", "no face found"),
    ("fifty faces", _case_fifty_faces, "ok", "16 largest per frame were analysed"),
    ("12,000-pixel-wide frame", _case_12000_pixel_wide_frame, "ok", "scored"),
    ("checkpoint with the wrong hash", _case_wrong_checkpoint_hash, "refused", "refusing to load"),
    ("model returns NaN", _case_model_returns_nan, "model_error", "NaN or infinite"),
]


@pytest.fixture(scope="module")
def ctx(meso4, obama_jpeg, obama_image):  # type: ignore[no-untyped-def]
    return {
        "meso4": meso4,
        "jpeg": obama_jpeg,
        "image": obama_image,
        "video": face_video(obama_image, frames=24, gop=3),
    }


@pytest.mark.parametrize(
    ("case", "expected_status", "expected_text"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_input_ends_in_a_clear_status_and_the_next_call_still_works(
    ctx, case, expected_status, expected_text
):
    outcome = case(ctx)
    assert outcome["status"] == expected_status, outcome["message"]
    assert expected_text in outcome["message"]
    after = analyze(ctx["jpeg"], detector=ctx["meso4"])
    assert after.status == "ok" and after.item_probability is not None


def test_a_model_error_is_reported_not_raised(meso4, obama_jpeg):
    class Exploding(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            raise RuntimeError("weights on fire")

    broken = replace_model(meso4, Exploding())
    result = analyze(obama_jpeg, detector=broken)
    assert result.status == "model_error"
    assert "weights on fire" in result.message


def replace_model(loaded: LoadedDetector, model: torch.nn.Module) -> LoadedDetector:
    return LoadedDetector(
        spec=loaded.spec, model=model, device="cpu", precision="fp32",
        channels_last=False, batch_size=loaded.batch_size,
    )  # fmt: skip


def test_video_with_one_readable_frame_is_analysed(obama_image):
    clip = face_video(obama_image, frames=1)
    result = analyze(clip, detector=None, max_frames=8)
    assert result.frames_analyzed == 1
    assert result.status == "no_detector" and result.faces_found == 1


def test_tiny_image_is_analysed_without_error(meso4):
    one_pixel = jpeg_of(Image.fromarray(np.zeros((1, 1, 3), np.uint8)))
    assert analyze(one_pixel, detector=meso4).status == "no_faces"


def test_grayscale_and_palette_images_are_converted(meso4, obama_image):
    for mode in ("L", "P", "RGBA"):
        out = io.BytesIO()
        obama_image.convert(mode).save(out, format="PNG")
        assert analyze(out.getvalue(), detector=meso4).status == "ok", mode


def test_an_unforeseen_decoder_exception_is_a_status_not_a_crash(meso4, obama_jpeg, monkeypatch):
    import detection.pipeline

    def explode(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise KeyError("odd EXIF tag")

    monkeypatch.setattr(detection.pipeline, "decode_media", explode)
    result = analyze(obama_jpeg, detector=meso4)
    assert result.status == "decode_error"
    assert "odd EXIF tag" in result.message
    monkeypatch.undo()
    assert analyze(obama_jpeg, detector=meso4).status == "ok"


def test_a_photo_uploaded_as_video_is_still_read_as_a_photo(meso4, obama_jpeg):
    result = analyze(obama_jpeg, detector=meso4, media_type="video/mp4")
    assert result.status == "ok" and result.media_kind == "image"
