"""Detector versions as model cards, and loading them safely.

A detector is a checkpoint plus a card (JSON) that says what it is: architecture, the
checkpoint's SHA-256, input size and normalisation, which output means fake, calibration,
measured metrics, training data summary, licence and known limits. `load_detector` checks
the checkpoint's hash before torch reads a byte of it and refuses on mismatch; results carry
the key, version and hash, so a dossier can name exactly what produced a score.

No Django and no torch at import time: the web process reads cards through here (helper
services register them), only `load_detector` and `LoadedDetector` import torch."""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

CARD_SCHEMA = "agencyguard.detector-card/1"
OUTPUTS = ("fake_prob", "real_prob")
CALIBRATION_METHODS = ("platt", "none")
DEFAULT_BATCH = {"cpu": 32, "cuda": 64}


class ChecksumMismatch(Exception):
    """The checkpoint on disk is not the one its card names: refuse to load it."""


class CardError(ValueError):
    """A model card is missing, unreadable or incomplete."""


class DetectorLoadError(Exception):
    """The checkpoint could not be turned into a model (unknown architecture, bad tensors)."""


class ModelError(Exception):
    """Running the model failed or produced unusable numbers (NaN, infinity, out of memory)."""


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class DetectorSpec:
    """What a model card says. `checkpoint_path` is absolute once read from a card (the card
    file stores it relative to itself when the checkpoint sits beside it)."""

    key: str
    version: str
    architecture: str  # a timm model name, or "meso4"
    checkpoint_path: str
    checkpoint_sha256: str
    input_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    output: str  # "fake_prob": sigmoid(logit) = P(fake); "real_prob": = P(real)
    calibration: dict[str, Any] = field(default_factory=lambda: {"method": "none"})
    metrics: dict[str, Any] = field(default_factory=dict)
    training_data: dict[str, Any] = field(default_factory=dict)
    licence: str = ""
    limits: str = ""
    crop_margin: float = 1.3
    created_at: str = ""
    notes: str = ""
    # A baseline kept for comparison (Meso-4): registered inactive, never a headline score.
    legacy: bool = False
    # detection.gates.gates_report as last evaluated (the registry re-evaluates on register).
    gates: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.key} {self.version}"

    def to_card(self, *, relative_to: Path | None = None) -> dict[str, Any]:
        card: dict[str, Any] = {"schema": CARD_SCHEMA, **asdict(self)}
        card["mean"], card["std"] = list(self.mean), list(self.std)
        if relative_to is not None:
            checkpoint = Path(self.checkpoint_path)
            if checkpoint.is_absolute() and checkpoint.resolve().parent == relative_to.resolve():
                card["checkpoint_path"] = checkpoint.name
        return card


def _require(card: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    if name not in card:
        raise CardError(f"model card lacks {name!r}")
    value = card[name]
    if not isinstance(value, kind):
        raise CardError(f"model card field {name!r} has the wrong type ({type(value).__name__})")
    return value


def spec_from_dict(card: dict[str, Any], *, base_dir: str | Path | None = None) -> DetectorSpec:
    """Validate a card (as stored in JSON) and resolve its checkpoint path."""
    if not isinstance(card, dict):
        raise CardError("a model card must be a JSON object")
    for name in ("key", "version", "architecture", "checkpoint_path", "output"):
        if not str(_require(card, name, str)).strip():
            raise CardError(f"model card field {name!r} is empty")
    sha = _require(card, "checkpoint_sha256", str).lower()
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise CardError("model card field 'checkpoint_sha256' is not a SHA-256 hex digest")
    size = _require(card, "input_size", int)
    if not 16 <= size <= 1024:
        raise CardError(f"model card input_size {size} is outside 16..1024")
    if card["output"] not in OUTPUTS:
        raise CardError(f"model card output must be one of {OUTPUTS}, not {card['output']!r}")
    mean = tuple(float(v) for v in _require(card, "mean", list))
    std = tuple(float(v) for v in _require(card, "std", list))
    if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
        raise CardError("model card mean and std need three values each (std > 0)")
    calibration = dict(card.get("calibration") or {"method": "none"})
    if calibration.get("method") not in CALIBRATION_METHODS:
        raise CardError(f"calibration method must be one of {CALIBRATION_METHODS}")
    if calibration["method"] == "platt":
        try:
            calibration["a"], calibration["b"] = float(calibration["a"]), float(calibration["b"])
        except (KeyError, TypeError, ValueError):
            raise CardError("Platt calibration needs numbers 'a' and 'b'") from None
        if not (math.isfinite(calibration["a"]) and math.isfinite(calibration["b"])):
            raise CardError("Platt calibration parameters must be finite")
    checkpoint = Path(card["checkpoint_path"])
    if not checkpoint.is_absolute() and base_dir is not None:
        checkpoint = Path(base_dir) / checkpoint
    if not isinstance(card.get("legacy", False), bool):
        raise CardError("model card field 'legacy' must be true or false")
    if not isinstance(card.get("gates") or {}, dict):
        raise CardError("model card field 'gates' must be an object")
    known = {f.name for f in fields(DetectorSpec)}
    extra = {k: v for k, v in card.items() if k in known}
    extra.update(
        checkpoint_path=str(checkpoint),
        checkpoint_sha256=sha,
        mean=mean,
        std=std,
        calibration=calibration,
        crop_margin=float(card.get("crop_margin", 1.3)),
        gates=dict(card.get("gates") or {}),
    )
    return DetectorSpec(**extra)


def spec_from_card(path: str | Path) -> DetectorSpec:
    path = Path(path)
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CardError(f"model card {path} not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CardError(f"model card {path} is not readable JSON: {exc}") from None
    return spec_from_dict(card, base_dir=path.resolve().parent)


def write_card(spec: DetectorSpec, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    card = spec.to_card(relative_to=path.resolve().parent)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def pick_device(device: str | None = None) -> str:
    """Explicit choice, else DETECTION_DEVICE, else CUDA when present, else CPU."""
    import torch

    choice = device or os.getenv("DETECTION_DEVICE", "")
    if choice:
        return choice
    return "cuda" if torch.cuda.is_available() else "cpu"


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free


@dataclass
class LoadedDetector:
    """A model ready to score face crops, with the card that describes it."""

    spec: DetectorSpec
    model: torch.nn.Module
    device: str
    precision: str  # "bf16" (CUDA autocast) or "fp32"
    channels_last: bool
    batch_size: int

    def fake_logits(self, crops: np.ndarray) -> np.ndarray:
        """Uncalibrated fake logits for uint8 crops (N, S, S, 3); batches the work, halves
        the batch on CUDA out-of-memory, and rejects non-finite output."""
        import torch

        count = len(crops)
        if count == 0:
            return np.empty(0, dtype=np.float64)
        size = self.spec.input_size
        if crops.ndim != 4 or crops.shape[1:] != (size, size, 3) or crops.dtype != np.uint8:
            raise ModelError(f"crops must be uint8 (N, {size}, {size}, 3), got {crops.shape}")
        out = np.empty(count, dtype=np.float64)
        batch, start = self.batch_size, 0
        while start < count:
            chunk = crops[start : start + batch]
            try:
                logits = self._forward(chunk)
            except torch.cuda.OutOfMemoryError:
                if batch == 1:
                    raise ModelError("out of GPU memory even at batch size 1") from None
                batch = max(1, len(chunk) // 2)
                torch.cuda.empty_cache()
                continue
            except RuntimeError as exc:
                raise ModelError(f"the model failed: {exc}") from None
            out[start : start + len(chunk)] = logits
            start += len(chunk)
        if not np.isfinite(out).all():
            bad = int((~np.isfinite(out)).sum())
            raise ModelError(
                f"the model returned NaN or infinite scores for {bad} of {count} faces; "
                "the checkpoint or its input is broken, so no score is reported"
            )
        return out if self.spec.output == "fake_prob" else -out

    def _forward(self, chunk: np.ndarray) -> np.ndarray:
        import torch

        with torch.inference_mode():
            # (N, H, W, 3) uint8 -> (N, 3, H, W) view: its strides already are channels_last.
            # np.require copies only read-only or non-contiguous input (torch wants writable).
            x = torch.from_numpy(np.require(chunk, requirements=["C", "W"]))
            x = x.to(self.device).permute(0, 3, 1, 2)
            # (x / 255 - mean) / std in two passes: x * scale + shift.
            x = x.float().mul_(self._scale).add_(self._shift)
            if not self.channels_last:
                x = x.contiguous()
            if self.precision == "bf16":
                with torch.autocast("cuda", dtype=torch.bfloat16):
                    logits = self.model(x)
            else:
                logits = self.model(x)
            return logits.float().reshape(-1).cpu().numpy()

    def calibrate(self, fake_logits: np.ndarray) -> np.ndarray:
        """P(fake) from fake logits through the card's Platt calibration (sigmoid(a * z + b)),
        or the raw sigmoid without one. Only a calibration fitted on held-out data makes the
        result a calibrated probability (detection.gates.calibration_fitted)."""
        calibration = self.spec.calibration
        if calibration.get("method") == "platt":
            return _sigmoid(calibration["a"] * fake_logits + calibration["b"])
        return _sigmoid(fake_logits)

    def score(self, crops: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(raw score of fake, score after the card's calibration) per crop; the two are the
        same when the card has no calibration."""
        logits = self.fake_logits(crops)
        return _sigmoid(logits), self.calibrate(logits)

    def __post_init__(self) -> None:
        import torch

        mean, std = (
            torch.tensor(v, dtype=torch.float64, device=self.device).view(1, 3, 1, 1)
            for v in (self.spec.mean, self.spec.std)
        )
        self._scale = (1.0 / (255.0 * std)).float()
        self._shift = (-mean / std).float()


# Models by (architecture, checkpoint SHA-256, device): the weights are what costs memory
# and time. The LoadedDetector around them is rebuilt per call, so two cards naming the same
# checkpoint (say, before and after calibration) each keep their own calibration.
_models: dict[tuple[str, str, str], torch.nn.Module] = {}
_cache_lock = threading.Lock()


def build_architecture(architecture: str) -> torch.nn.Module:
    if architecture == "meso4":
        from detection.nets.meso4 import Meso4  # heavy: detection extra (torch)

        return Meso4()
    from detection.nets.backbones import build_timm  # heavy: detection extra (torch, timm)

    try:
        return build_timm(architecture, pretrained=False)
    except RuntimeError as exc:  # timm: "Unknown model"
        raise DetectorLoadError(f"unknown architecture {architecture!r}: {exc}") from None


def load_detector(
    spec: DetectorSpec, device: str | None = None, *, batch_size: int | None = None
) -> LoadedDetector:
    """Verify the checkpoint's SHA-256, then return the model on `device`, loaded once per
    process.

    The hash is checked on every call, not only the first: a checkpoint replaced on disk
    after the model was cached is still refused."""
    import torch

    path = Path(spec.checkpoint_path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DetectorLoadError(
            f"checkpoint {path} cannot be read: {exc.strerror or exc}"
        ) from None
    digest = hashlib.sha256(data).hexdigest()
    if digest != spec.checkpoint_sha256:
        raise ChecksumMismatch(
            f"checkpoint {path} has SHA-256 {digest} but the card of {spec.label} names "
            f"{spec.checkpoint_sha256}; refusing to load it"
        )
    device = pick_device(device)
    on_cuda = device.startswith("cuda")
    cache_key = (spec.architecture, digest, device)
    with _cache_lock:
        model = _models.get(cache_key)
        if model is None:
            model = _load_model(spec, data, device)
            _models[cache_key] = model
    return LoadedDetector(
        spec=spec,
        model=model,
        device=device,
        precision="bf16" if on_cuda and torch.cuda.is_bf16_supported() else "fp32",
        channels_last=True,
        batch_size=batch_size or DEFAULT_BATCH["cuda" if on_cuda else "cpu"],
    )


def _load_model(spec: DetectorSpec, data: bytes, device: str) -> torch.nn.Module:
    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load as load_safetensors

    model = build_architecture(spec.architecture)
    try:
        # From the bytes we hashed, not the path: nothing can swap the file in between.
        state = load_safetensors(data)
        model.load_state_dict(state, strict=True)
    except (SafetensorError, RuntimeError, ValueError) as exc:
        raise DetectorLoadError(
            f"checkpoint of {spec.label} does not fit {spec.architecture}: {exc}"
        ) from None
    # channels_last on CPU too: oneDNN runs these (depthwise-heavy) nets 1.5-2x faster in
    # NHWC than NCHW on the development machines.
    return model.eval().to(device).to(memory_format=torch.channels_last)


def clear_cache() -> None:
    with _cache_lock:
        _models.clear()


def save_checkpoint(model: torch.nn.Module, path: str | Path) -> str:
    """Write the model's state dict as safetensors; returns the file's SHA-256."""
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata={"format": "pt"})
    return sha256_file(path)
