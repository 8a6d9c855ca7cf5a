"""The detection pipeline end to end on CPU: `manage.py detect` on an image and a video,
the no-detector path (faces, never a number), the registry's checks and cache, batching."""

from __future__ import annotations

import io
import json
import math
from dataclasses import replace

import numpy as np
import pytest
from django.core.management import call_command
from PIL import Image

from cases.kernel.decode import decode_media
from detection.pipeline import NO_DETECTOR_MESSAGE, aggregate, analyze
from detection.registry import (
    CardError,
    load_detector,
    spec_from_card,
    spec_from_dict,
    write_card,
)
from tests.data_path import data_file
from tests.detection.conftest import gradient_jpeg, jpeg_of


def _detect(capsys, *args: str) -> dict:
    call_command("detect", *args)
    return json.loads(capsys.readouterr().out)


def _assert_scored(result: dict, spec) -> None:  # type: ignore[no-untyped-def]
    assert result["status"] == "ok", result["message"]
    assert result["faces"]
    for face in result["faces"]:
        assert len(face["bbox"]) == 4 and face["det_score"] > 0.8
        assert 0 <= face["raw_score"] <= 1 and 0 <= face["probability"] <= 1
    assert 0 <= result["item_probability"] <= 1
    assert result["detector_key"] == spec.key
    assert result["detector_version"] == spec.version
    assert result["checkpoint_sha256"] == spec.checkpoint_sha256
    assert result["device"] == "cpu" and result["precision"] == "fp32"
    assert {"decode", "faces", "classify", "total"} <= set(result["timings"])


def test_detect_command_reports_faces_scores_version_hash_device_and_timings_for_an_image(
    capsys, meso4_card, meso4, tmp_path, obama_jpeg
):
    path = tmp_path / "obama.jpg"
    path.write_bytes(obama_jpeg)
    result = _detect(capsys, str(path), "--card", str(meso4_card), "--device", "cpu")
    _assert_scored(result, meso4.spec)
    assert result["media_kind"] == "image"
    assert (result["width"], result["height"]) == (853, 480)
    [face] = result["faces"]
    x, y, w, _h = face["bbox"]
    assert 340 < x < 440 and 0 <= y < 100 and 80 < w < 160  # the face, not the flag


def test_detect_command_samples_a_video_and_scores_its_faces(
    capsys, meso4_card, meso4, tmp_path, obama_video
):
    path = tmp_path / "clip.mkv"
    path.write_bytes(obama_video)
    result = _detect(capsys, str(path), "--card", str(meso4_card), "--max-frames", "4")
    _assert_scored(result, meso4.spec)
    assert result["media_kind"] == "video"
    assert result["frames_analyzed"] == 4
    assert sorted({f["frame_index"] for f in result["faces"]}) == [0, 1, 2, 3]
    # Evenly in time: the middle of four equal slices of a two-second clip.
    assert result["frame_times"] == pytest.approx([0.25, 0.75, 1.25, 1.75], abs=0.13)


@pytest.mark.django_db
def test_detect_command_never_picks_a_legacy_detector_and_names_its_raw_score(
    capsys, meso4_card, meso4, tmp_path, obama_jpeg
):
    from detection.services.detectors import detector_register

    version = detector_register(card_path=meso4_card)
    assert version.legacy and not version.active
    path = tmp_path / "obama.jpg"
    path.write_bytes(obama_jpeg)
    # Without --card: the active detector, and a legacy one never is.
    assert _detect(capsys, str(path))["status"] == "no_detector"
    # Asked for explicitly, its number is named for what it is.
    result = _detect(capsys, str(path), "--card", str(meso4_card))
    assert result["status"] == "ok"
    assert result["checkpoint_sha256"] == meso4.spec.checkpoint_sha256
    assert result["score_kind"] == "raw_model_score" and result["score_calibrated"] is False
    assert "not probabilities" in result["message"]


@pytest.mark.django_db
def test_detect_command_with_no_detector_finds_faces_but_gives_no_number(
    capsys, tmp_path, obama_jpeg
):
    path = tmp_path / "obama.jpg"
    path.write_bytes(obama_jpeg)
    result = _detect(capsys, str(path))
    assert result["status"] == "no_detector"
    assert result["message"].startswith(NO_DETECTOR_MESSAGE)
    assert len(result["faces"]) == 1
    assert result["item_probability"] is None
    assert result["faces"][0]["probability"] is None and result["faces"][0]["raw_score"] is None


def test_video_without_a_detector_still_counts_faces(obama_video):
    result = analyze(obama_video, detector=None, max_frames=3)
    assert result.status == "no_detector"
    assert result.frames_analyzed == 3 and result.faces_found == 3
    assert result.item_probability is None


def test_exif_rotated_photo_is_turned_upright_before_face_detection(meso4, obama_image):
    # Stored on its side with EXIF orientation 6 ("rotate 90 clockwise to view").
    sideways = obama_image.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    result = analyze(jpeg_of(sideways, exif=exif), detector=meso4)
    assert result.status == "ok"
    assert (result.width, result.height) == (853, 480)  # reported upright
    assert 340 < result.faces[0].bbox[0] < 440


def test_aggregate_is_the_mean_of_the_top_quarter():
    assert aggregate(np.array([0.1, 0.9])) == pytest.approx(0.9)  # few faces: the maximum
    eight = np.array([0.95, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1])
    assert aggregate(eight) == pytest.approx(0.925)


def test_platt_calibration_from_the_card_is_applied(meso4, obama_jpeg):
    spec = replace(meso4.spec, calibration={"method": "platt", "a": 0.5, "b": -1.0})
    calibrated = load_detector(spec, "cpu")
    assert calibrated.model is meso4.model  # same checkpoint: loaded once per process
    plain = analyze(obama_jpeg, detector=meso4)
    result = analyze(obama_jpeg, detector=calibrated)
    raw = plain.faces[0].raw_score
    logit = math.log(raw / (1 - raw))
    assert result.faces[0].raw_score == pytest.approx(raw)
    assert result.faces[0].probability == pytest.approx(
        1 / (1 + math.exp(-(0.5 * logit - 1))), rel=1e-4
    )


def test_cuda_out_of_memory_halves_the_batch_and_still_scores_every_face(meso4, monkeypatch):
    import torch

    crops = np.random.default_rng(0).integers(0, 255, (10, 256, 256, 3), dtype=np.uint8)
    expected = meso4.fake_logits(crops)
    batches: list[int] = []
    forward = type(meso4)._forward

    def tight_memory(self, chunk):  # type: ignore[no-untyped-def]
        batches.append(len(chunk))
        if len(chunk) > 3:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return forward(self, chunk)

    monkeypatch.setattr(type(meso4), "_forward", tight_memory)
    np.testing.assert_allclose(meso4.fake_logits(crops), expected, rtol=1e-5)
    assert batches[:3] == [10, 5, 2]  # 32 capped to 10 faces, then halved twice
    assert batches[2:] == [2, 2, 2, 2, 2]  # the smaller batch is kept for the rest


def test_card_round_trips_and_a_bad_card_is_refused_with_a_reason(meso4, tmp_path):
    path = write_card(meso4.spec, tmp_path / "card.json")
    assert spec_from_card(path) == meso4.spec
    card = meso4.spec.to_card()
    card["output"] = "maybe_fake"
    with pytest.raises(CardError, match="output must be one of"):
        spec_from_dict(card)
    with pytest.raises(CardError, match="not found"):
        spec_from_card(tmp_path / "missing.json")


def test_frames_larger_than_4096_pixels_are_downscaled_right_after_decoding():
    wide = Image.new("RGB", (9000, 300), (10, 20, 30))
    media = decode_media(jpeg_of(wide))
    assert (media.width, media.height) == (9000, 300)
    assert media.frames[0].shape[1] == 4096
    assert media.scales[0] == pytest.approx(4096 / 9000, rel=1e-3)


def test_plain_gradient_has_no_faces(meso4):
    result = analyze(gradient_jpeg(), detector=meso4)
    assert result.status == "no_faces"
    assert "no face found" in result.message
    assert result.item_probability is None


def test_result_serialises_to_json(meso4, obama_jpeg):
    data = analyze(obama_jpeg, detector=meso4).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert isinstance(data["faces"][0]["bbox"], list)


def test_image_sent_without_media_type_is_sniffed(meso4, obama_jpeg):
    assert analyze(io.BytesIO(obama_jpeg).getvalue(), detector=meso4, media_type="").status == "ok"


def test_a_real_mp4_is_sampled_at_eight_frames_even_without_faces(meso4):
    clip = data_file("provenance", "c2pa", "video1.mp4").read_bytes()
    result = analyze(clip, detector=meso4, media_type="video/mp4")
    assert result.media_kind == "video" and result.frames_analyzed == 8
    assert (result.width, result.height) == (720, 1280)
    assert result.frame_times == sorted(result.frame_times)
    assert result.status == "no_faces" and result.item_probability is None
