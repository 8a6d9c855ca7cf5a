"""The detection pipeline: bytes in, an AnalysisResult out. Pure: no ORM, no Django.

decode (images; videos sampled at N frames) -> find faces (RetinaFace, ONNX) -> square crops
with margin at the classifier's input size -> one batched classifier pass over every face of
every frame -> calibrated per-face probabilities -> one per-item probability.

Every failure ends in a status and a message a person can read, never an exception: the
worker that calls this keeps serving. torch is imported only through the loaded detector, so
`analyze(..., detector=None)` (faces only, never a number) runs without it."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np
from numpy.typing import NDArray

from cases.kernel.decode import DecodeError, UnsupportedMedia, decode_media
from detection.faces import (
    MAX_FACES_PER_FRAME,
    FaceBox,
    FaceDetectorUnavailable,
    crop_faces,
    detect_faces,
)
from detection.gates import calibration_fitted
from detection.registry import LoadedDetector, ModelError

log = logging.getLogger(__name__)

NO_DETECTOR_MESSAGE = "no trained detector installed"
AGGREGATION = "mean of the top quarter of face probabilities (at least one face)"


class Status(StrEnum):
    OK = "ok"
    NO_DETECTOR = "no_detector"
    NO_FACES = "no_faces"
    DECODE_ERROR = "decode_error"
    MODEL_ERROR = "model_error"
    UNSUPPORTED = "unsupported"


@dataclass
class FaceResult:
    """One face. `bbox` is (x, y, w, h) in pixels of the original (upright) frame;
    `raw_score` is the model's raw score of fake, `probability` the score after the card's
    calibration: a calibrated probability only when AnalysisResult.score_calibrated."""

    frame_index: int
    bbox: tuple[int, int, int, int]
    det_score: float
    raw_score: float | None = None
    probability: float | None = None


@dataclass
class AnalysisResult:
    status: str
    message: str = ""
    faces: list[FaceResult] = field(default_factory=list)
    item_probability: float | None = None
    # True only when the card's calibration was fitted on held-out data (detection.gates);
    # otherwise the numbers are the model's raw scores, never to be called probabilities.
    score_calibrated: bool = False
    detector_key: str = ""
    detector_version: str = ""
    checkpoint_sha256: str = ""
    device: str = ""
    precision: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    frames_analyzed: int = 0
    frame_times: list[float] = field(default_factory=list)
    media_kind: str = ""
    width: int = 0
    height: int = 0
    faces_found: int = 0
    faces_skipped: int = 0
    aggregation: str = ""
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = str(self.status)
        for face in data["faces"]:
            face["bbox"] = list(face["bbox"])
        return data


def aggregate(probabilities: NDArray[Any]) -> float:
    """Per-item score: the mean of the highest quarter of face scores (at least one).

    One swapped face among a few still decides the item (for up to 7 faces this is the
    maximum), while a single odd frame of a long video is averaged with its neighbours."""
    ordered = np.sort(np.asarray(probabilities, dtype=np.float64))[::-1]
    k = max(1, math.ceil(len(ordered) / 4))
    return float(ordered[:k].mean())


def _elapsed_ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


def analyze(
    data: bytes,
    *,
    detector: LoadedDetector | None,
    media_type: str = "",
    max_frames: int = 8,
    max_faces_per_frame: int = MAX_FACES_PER_FRAME,
) -> AnalysisResult:
    """Analyse one image or video. Never raises for bad input or a broken model."""
    started = time.perf_counter()
    result = AnalysisResult(status=Status.OK)
    if detector is not None:
        spec = detector.spec
        result.detector_key, result.detector_version = spec.key, spec.version
        result.checkpoint_sha256 = spec.checkpoint_sha256
        result.device, result.precision = detector.device, detector.precision
    try:
        _run(result, data, detector, media_type, max_frames, max_faces_per_frame)
    except MemoryError:
        # A pathological file can still exhaust memory; the worker survives it.
        stage = Status.DECODE_ERROR if not result.frames_analyzed else Status.MODEL_ERROR
        result.status, result.message = stage, "ran out of memory analysing the file"
        result.faces = []
    if result.status != Status.OK:
        result.item_probability = None
    if detector is None and result.status in (Status.OK, Status.NO_FACES):
        found = f" ({result.faces_found} face(s) found)" if result.faces_found else ""
        result.status, result.message = Status.NO_DETECTOR, NO_DETECTOR_MESSAGE + found
    result.timings["total"] = _elapsed_ms(started)
    return result


def _run(
    result: AnalysisResult,
    data: bytes,
    detector: LoadedDetector | None,
    media_type: str,
    max_frames: int,
    max_faces_per_frame: int,
) -> None:
    step = time.perf_counter()
    try:
        media = decode_media(data, media_type, max_frames=max_frames)
    except UnsupportedMedia as exc:
        result.status, result.message = Status.UNSUPPORTED, str(exc)
        return
    except DecodeError as exc:
        result.status, result.message = Status.DECODE_ERROR, str(exc)
        return
    except MemoryError:
        raise
    except Exception as exc:
        # Decoders parse hostile bytes; an exception we did not foresee is still a status.
        log.exception("unexpected decoder failure")
        result.status, result.message = Status.DECODE_ERROR, f"could not decode the file: {exc!r}"
        return
    finally:
        result.timings["decode"] = _elapsed_ms(step)
    result.media_kind, result.width, result.height = media.kind, media.width, media.height
    result.frames_analyzed, result.frame_times = len(media.frames), media.times
    result.warnings.extend(media.warnings)

    step = time.perf_counter()
    per_frame: list[tuple[int, list[FaceBox]]] = []
    try:
        for index, frame in enumerate(media.frames):
            found = detect_faces(frame)
            result.faces_found += len(found)
            # detect_faces sorts largest first: the big faces are the ones worth scoring.
            per_frame.append((index, found[:max_faces_per_frame]))
    except FaceDetectorUnavailable as exc:
        result.status, result.message = Status.MODEL_ERROR, f"face detector unavailable: {exc}"
        return
    except MemoryError:
        raise
    except Exception as exc:
        log.exception("face detection failed")
        result.status, result.message = Status.MODEL_ERROR, f"face detection failed: {exc!r}"
        return
    finally:
        result.timings["faces"] = _elapsed_ms(step)

    for index, boxes in per_frame:
        scale = media.scales[index]
        for box in boxes:
            bbox = (
                round(box.x / scale),
                round(box.y / scale),
                round(box.w / scale),
                round(box.h / scale),
            )
            result.faces.append(FaceResult(index, bbox, round(box.score, 4)))
    result.faces_skipped = result.faces_found - len(result.faces)
    if result.faces_skipped:
        result.warnings.append(
            f"{result.faces_found} faces found; the {max_faces_per_frame} largest per frame "
            f"were analysed and {result.faces_skipped} smaller ones skipped"
        )
    if not result.faces:
        frames = "the image" if media.kind == "image" else f"{len(media.frames)} sampled frames"
        result.status = Status.NO_FACES
        result.message = f"no face found in {frames}; the classifier scores faces only"
        return
    if detector is None:
        return

    step = time.perf_counter()
    try:
        size, margin = detector.spec.input_size, detector.spec.crop_margin
        crops = np.concatenate(
            [
                crop_faces(media.frames[index], boxes, size=size, margin=margin)
                for index, boxes in per_frame
                if boxes
            ]
        )
        del media  # the frames are no longer needed while the model runs
        raw, calibrated = detector.score(crops)
    except MemoryError:
        raise
    except Exception as exc:
        if not isinstance(exc, ModelError):
            log.exception("classifier failed")
        message = str(exc) if isinstance(exc, ModelError) else f"the model failed: {exc!r}"
        result.status, result.message = Status.MODEL_ERROR, message
        return
    finally:
        result.timings["classify"] = _elapsed_ms(step)
    for face, raw_score, probability in zip(result.faces, raw, calibrated, strict=True):
        face.raw_score, face.probability = round(float(raw_score), 6), round(float(probability), 6)
    result.item_probability = round(aggregate(calibrated), 6)
    result.score_calibrated = calibration_fitted({"calibration": detector.spec.calibration})
    result.aggregation = AGGREGATION
    result.message = f"{len(result.faces)} face(s) scored by {detector.spec.label}; " + (
        "a calibrated probability is advice, the human review is the verdict"
        if result.score_calibrated
        else "raw model scores, not probabilities (no calibration fitted on held-out "
        "data); the human review is the verdict"
    )
