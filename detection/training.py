"""Fine-tune a timm backbone on a folder of labelled images, and evaluate a detector on one.

    DATA_DIR/real/*.jpg   (label 0)
    DATA_DIR/fake/*.jpg   (label 1)

Each image becomes one crop: its largest face (same detector, margin and size as the
pipeline), or its centre square when no face is found. A stratified share is held out:
the model never trains on it; Platt calibration is fitted on it and the card's metrics are
measured on it (ECE cross-fitted, so calibration is not judged on the images it was fitted
on). No Django here: the management commands register the result."""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from cases.kernel.decode import DecodeError, UnsupportedMedia, decode_image
from detection.evaluation import (
    cross_fitted_ece,
    format_metrics,
    platt_fit,
    plot_reliability,
    plot_roc,
    summarise,
)
from detection.faces import FaceDetectorUnavailable, centre_crop, crop_faces, detect_faces
from detection.gates import GateThresholds, calibration_fitted, gates_report
from detection.registry import (
    DetectorSpec,
    LoadedDetector,
    load_detector,
    pick_device,
    save_checkpoint,
    write_card,
)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}
CLASSES = (("real", 0), ("fake", 1))
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
Log = Callable[[str], None]


class TrainingDataError(ValueError):
    """The training folder is missing, empty or too small to split."""


@dataclass
class LabelledFolder:
    paths: list[Path]
    labels: np.ndarray  # 1 = fake
    file_list_sha256: str
    counts: dict[str, int]


def list_folder(data_dir: str | Path) -> LabelledFolder:
    """The images under real/ and fake/, in a stable order, with a fingerprint of the set:
    SHA-256 over sorted (label, relative path, file SHA-256) lines."""
    root = Path(data_dir)
    if not root.is_dir():
        raise TrainingDataError(f"{root} is not a folder")
    paths: list[Path] = []
    labels: list[int] = []
    lines: list[str] = []
    counts: dict[str, int] = {}
    for name, label in CLASSES:
        folder = root / name
        files = (
            sorted(
                p for p in folder.glob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
            )
            if folder.is_dir()
            else []
        )
        counts[name] = len(files)
        for path in files:
            paths.append(path)
            labels.append(label)
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            lines.append(f"{name}\t{path.relative_to(root).as_posix()}\t{digest}\n")
    if not counts["real"] or not counts["fake"]:
        raise TrainingDataError(
            f"{root} needs images in both real/ and fake/ (found {counts['real']} real, "
            f"{counts['fake']} fake)"
        )
    fingerprint = hashlib.sha256("".join(sorted(lines)).encode()).hexdigest()
    return LabelledFolder(paths, np.asarray(labels, dtype=np.int64), fingerprint, counts)


@dataclass
class Crops:
    images: np.ndarray  # (N, S, S, 3) uint8
    labels: np.ndarray
    paths: list[Path]
    faces: int = 0
    centre: int = 0
    skipped: list[str] = field(default_factory=list)


def prepare_crops(folder: LabelledFolder, *, size: int, margin: float, log: Log = print) -> Crops:
    """One crop per readable image: the largest face, else the centre square."""
    images: list[np.ndarray] = []
    labels: list[int] = []
    paths: list[Path] = []
    crops = Crops(np.empty((0, size, size, 3), np.uint8), np.empty(0, np.int64), [])
    detector_ok = True
    for path, label in zip(folder.paths, folder.labels.tolist(), strict=True):
        try:
            frame = decode_image(path.read_bytes()).frames[0]
        except (DecodeError, UnsupportedMedia, OSError) as exc:
            crops.skipped.append(f"{path.name}: {exc}")
            continue
        found = []
        if detector_ok:
            try:
                found = detect_faces(frame)
            except FaceDetectorUnavailable as exc:
                log(f"face detector unavailable ({exc}); using centre crops")
                detector_ok = False
        if found:
            images.append(crop_faces(frame, found[:1], size=size, margin=margin)[0])
            crops.faces += 1
        else:
            images.append(centre_crop(frame, size=size))
            crops.centre += 1
        labels.append(label)
        paths.append(path)
    if images:
        crops.images = np.stack(images)
    crops.labels, crops.paths = np.asarray(labels, dtype=np.int64), paths
    return crops


def held_out_size(count: int, held_out: float) -> int:
    """How many of a class's `count` images stratified_split holds out."""
    return min(count - 1, max(1, round(count * held_out)))


def check_size(counts: dict[str, int], *, held_out: float, min_per_class: int) -> None:
    """Refuse, before any training, a folder whose held-out split cannot reach the gate's
    number of items per class: a model measured on fewer can never be activated."""
    short = {
        name: held_out_size(count, held_out)
        for name, count in counts.items()
        if held_out_size(count, held_out) < min_per_class
    }
    if not short:
        return
    needed = math.ceil(min_per_class / held_out)
    raise TrainingDataError(
        f"the folder is too small: {counts['real']} real and {counts['fake']} fake images; "
        f"holding out {held_out:.0%} leaves "
        + ", ".join(f"{n} {name}" for name, n in short.items())
        + f" held-out images, and the quality gates need at least {min_per_class} of each "
        f"(about {needed} images per class). Add images, or pass --force to train an "
        "experimental model that is registered inactive and can never be activated."
    )


def stratified_split(
    labels: np.ndarray, *, held_out: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, held_out) with each class split in the same proportion; every class
    keeps at least one image on each side."""
    rng = np.random.default_rng(seed)
    train: list[int] = []
    test: list[int] = []
    for cls in (0, 1):
        members = np.flatnonzero(labels == cls)
        if len(members) < 2:
            name = dict((v, k) for k, v in CLASSES)[cls]
            raise TrainingDataError(f"need at least 2 readable {name} images to hold one out")
        rng.shuffle(members)
        n_test = held_out_size(len(members), held_out)
        test.extend(members[:n_test].tolist())
        train.extend(members[n_test:].tolist())
    return np.asarray(sorted(train)), np.asarray(sorted(test))


@dataclass
class TrainConfig:
    arch: str = "efficientnet_lite0"
    epochs: int = 5
    input_size: int = 224
    batch_size: int = 32
    lr: float = 3e-4
    weight_decay: float = 1e-4
    held_out: float = 0.25
    seed: int = 0
    margin: float = 1.3
    pretrained: bool = True
    key: str = ""
    version: str = ""
    device: str | None = None
    gates: GateThresholds = field(default_factory=GateThresholds)
    # Train even when the folder cannot pass the held-out gate (an experiment: the card
    # records the failures and the model can never be activated).
    force: bool = False


@dataclass
class TrainResult:
    card_path: Path
    spec: DetectorSpec
    metrics: dict[str, Any]


def _augment(x: Any, generator: Any) -> Any:
    """Label-preserving jitter on a float batch in [0, 1]: horizontal flip, mild brightness
    and contrast. Nothing that blurs or recompresses: those would erase the very artefacts a
    detector looks for."""
    import torch

    n = x.shape[0]
    flip = torch.rand(n, generator=generator) < 0.5
    x = torch.where(flip.view(n, 1, 1, 1).to(x.device), x.flip(3), x)
    brightness = (torch.rand(n, 1, 1, 1, generator=generator) - 0.5) * 0.2
    contrast = 1 + (torch.rand(n, 1, 1, 1, generator=generator) - 0.5) * 0.2
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * contrast.to(x.device) + mean + brightness.to(x.device)
    return x.clamp_(0, 1)


def held_out_measurements(
    logits: np.ndarray, labels: np.ndarray, *, seed: int = 0, min_per_class: int = 50
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(calibration, metrics) of a model from its raw fake logits on held-out items: Platt
    fitted on them, AUC with its bootstrap interval, EER, cross-fitted ECE, the counts per
    class, the spread of the raw scores (a constant model is caught by a gate instead of
    being calibrated into plausible "probabilities") and a warning naming the counts when
    a class has fewer than `min_per_class` items."""
    a, b = platt_fit(logits, labels)
    calibrated = 1 / (1 + np.exp(-(a * logits + b)))
    metrics: dict[str, Any] = summarise(labels, calibrated, seed=seed)
    metrics["raw_score_std"] = round(float(np.std(1 / (1 + np.exp(-logits)))), 6)
    ece = cross_fitted_ece(logits, labels, seed=seed)
    metrics["ece"] = None if ece is None else round(float(ece), 4)
    metrics["note"] = (
        "AUC and EER on the held-out split; ECE cross-fitted (Platt fitted on one half of the "
        "held-out split, measured on the other)"
    )
    n_fake, n_real = int(labels.sum()), int(len(labels) - labels.sum())
    if min(n_fake, n_real) < min_per_class:
        metrics["warning"] = (
            f"only {len(labels)} held-out images ({n_fake} fake, {n_real} real): these "
            "numbers are very uncertain"
        )
    calibration = {
        "method": "platt",
        "a": round(a, 6),
        "b": round(b, 6),
        "fitted_on": "held_out",
        "n_fit": len(labels),
    }
    return calibration, metrics


def optimizer_steps(n_train: int, config: TrainConfig) -> int:
    """Optimizer steps the loop below takes: batches of at least 2 images (BatchNorm cannot
    train on one), per epoch."""
    full, rest = divmod(n_train, config.batch_size)
    return (full + (1 if rest >= 2 else 0)) * config.epochs


def learning_rate_schedule(optimizer: Any, *, lr: float, total_steps: int) -> Any:
    """One-cycle schedule when there are enough steps for its warm-up and decay phases;
    a constant rate otherwise. OneCycleLR divides by the length of its warm-up phase
    (pct_start * steps - 1), which is zero at 5 steps: a small folder crashed with
    ZeroDivisionError."""
    import torch

    if total_steps < 10:
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    return torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=total_steps, pct_start=0.2
    )


def train_detector(
    data_dir: str | Path, out_dir: str | Path, config: TrainConfig, *, log: Log = print
) -> TrainResult:
    """Fine-tune, calibrate, measure; writes out_dir/model.safetensors and out_dir/card.json."""
    import torch

    from detection.nets.backbones import PRETRAINED, build_timm  # heavy: detection extra

    started = time.monotonic()
    out_dir = Path(out_dir)
    folder = list_folder(data_dir)
    log(f"{folder.counts['real']} real and {folder.counts['fake']} fake images in {data_dir}")
    if not config.force:
        check_size(
            folder.counts, held_out=config.held_out, min_per_class=config.gates.min_per_class
        )
    crops = prepare_crops(folder, size=config.input_size, margin=config.margin, log=log)
    log(f"crops: {crops.faces} faces, {crops.centre} centre crops, {len(crops.skipped)} unreadable")
    train_idx, test_idx = stratified_split(crops.labels, held_out=config.held_out, seed=config.seed)

    torch.manual_seed(config.seed)
    device = pick_device(config.device)
    on_cuda = device.startswith("cuda")
    model = build_timm(config.arch, pretrained=config.pretrained).to(device)
    model = model.to(memory_format=torch.channels_last)  # faster on CPU as well as CUDA
    mean = torch.tensor(IMAGENET_MEAN, device=device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=device).view(1, 3, 1, 1)

    def batch_tensor(index: np.ndarray) -> torch.Tensor:
        x = torch.from_numpy(crops.images[index]).to(device).permute(0, 3, 1, 2).float() / 255
        return x

    labels_t = torch.from_numpy(crops.labels.astype(np.float32))
    n_fake = float(crops.labels[train_idx].sum())
    n_real = float(len(train_idx) - n_fake)
    # Weigh the classes equally whatever their counts.
    loss_fn = torch.nn.BCEWithLogitsLoss(
        pos_weight=torch.tensor(n_real / max(n_fake, 1.0), device=device)
    )
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    scheduler = learning_rate_schedule(
        optimizer, lr=config.lr, total_steps=optimizer_steps(len(train_idx), config)
    )
    generator = torch.Generator().manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    for epoch in range(config.epochs):
        model.train()
        order = rng.permutation(train_idx)
        total, seen = 0.0, 0
        for start in range(0, len(order), config.batch_size):
            index = order[start : start + config.batch_size]
            if len(index) < 2:
                continue  # BatchNorm cannot train on a single image
            x = _augment(batch_tensor(index), generator)
            x = ((x - mean) / std).contiguous(memory_format=torch.channels_last)
            y = labels_t[index].to(device)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=on_cuda):
                logits = model(x).float().reshape(-1)
            loss = loss_fn(logits, y)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            scheduler.step()
            total += float(loss.detach()) * len(index)
            seen += len(index)
        log(f"epoch {epoch + 1}/{config.epochs}: training loss {total / max(seen, 1):.4f}")

    key = config.key or f"{config.arch}-faces"
    version = config.version or datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    checkpoint = out_dir / "model.safetensors"
    checkpoint_sha = save_checkpoint(model, checkpoint)
    uncalibrated = DetectorSpec(
        key=key, version=version, architecture=config.arch,
        checkpoint_path=str(checkpoint.resolve()), checkpoint_sha256=checkpoint_sha,
        input_size=config.input_size, mean=IMAGENET_MEAN, std=IMAGENET_STD,
        output="fake_prob", crop_margin=config.margin,
    )  # fmt: skip
    # Held-out scores through the same loading path the pipeline uses (hash checked).
    loaded = load_detector(uncalibrated, device)
    held_logits = loaded.fake_logits(crops.images[test_idx])
    held_labels = crops.labels[test_idx]
    calibration, metrics = held_out_measurements(
        held_logits, held_labels, seed=config.seed, min_per_class=config.gates.min_per_class
    )
    metrics["split"] = (
        f"stratified held-out {config.held_out:.0%} of the training folder (seed {config.seed})"
    )
    spec = replace(
        uncalibrated,
        calibration=calibration,
        metrics=metrics,
        training_data={
            "folder": str(Path(data_dir).resolve()),
            "counts": folder.counts,
            "file_list_sha256": folder.file_list_sha256,
            "date": datetime.now(UTC).date().isoformat(),
            "train_images": len(train_idx),
            "held_out_images": len(test_idx),
            "face_crops": crops.faces,
            "centre_crops": crops.centre,
            "unreadable": crops.skipped[:20],
            "epochs": config.epochs,
            "batch_size": config.batch_size,
            "learning_rate": config.lr,
            "seed": config.seed,
            "device": device,
            "initial_weights": PRETRAINED[config.arch].licence
            if config.pretrained and config.arch in PRETRAINED
            else "random",
            "seconds": round(time.monotonic() - started, 1),
        },
        licence=(
            "fine-tuned by this deployment; backbone "
            + (PRETRAINED[config.arch].licence if config.arch in PRETRAINED else config.arch)
            + "; training images belong to the agency and stay with it"
        ),
        limits=(
            f"Trained on {len(train_idx)} images from one folder: it knows only the kinds of "
            "fakes and reals in it, and scores other generators unreliably. The metrics "
            "come from a held-out share of the same folder, not from independent data. "
            "A score is advice; the human review is the verdict."
        ),
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    spec = replace(spec, gates=gates_report(spec.to_card(), config.gates))
    card_path = write_card(spec, out_dir / "card.json")
    log(f"held-out: {format_metrics(metrics)}")
    for gate in spec.gates["results"]:
        log(
            f"gate {gate['name']}: {gate['value']} (needs {gate['threshold']}) "
            + ("pass" if gate["passed"] else "FAIL")
        )
    log(f"wrote {checkpoint} (SHA-256 {checkpoint_sha}) and {card_path}")
    return TrainResult(card_path=card_path, spec=spec, metrics=metrics)


def evaluate_detector(
    detector: LoadedDetector,
    data_dir: str | Path,
    out_dir: str | Path,
    *,
    n_boot: int = 1000,
    log: Log = print,
) -> dict[str, Any]:
    """Score every image of a labelled folder through the card's calibration (a calibrated
    probability only when it was fitted on held-out data, else the raw score); print and save
    the metrics (metrics.json, which says which of the two it measured) with roc.png and
    reliability.png."""
    import json

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    folder = list_folder(data_dir)
    spec = detector.spec
    crops = prepare_crops(folder, size=spec.input_size, margin=spec.crop_margin, log=log)
    if len(set(crops.labels.tolist())) < 2:
        raise TrainingDataError("evaluation needs readable images of both classes")
    _raw, probabilities = detector.score(crops.images)
    metrics = summarise(crops.labels, probabilities, n_boot=n_boot)
    calibrated = calibration_fitted({"calibration": spec.calibration})
    metrics.update(
        score_kind="calibrated_probability" if calibrated else "raw_model_score",
        detector=spec.label,
        checkpoint_sha256=spec.checkpoint_sha256,
        folder=str(Path(data_dir).resolve()),
        file_list_sha256=folder.file_list_sha256,
        face_crops=crops.faces,
        centre_crops=crops.centre,
        unreadable=len(crops.skipped),
    )
    title = f"{spec.label}\non {Path(data_dir).name} (n={len(crops.labels)})"
    metrics["roc_png"] = str(
        plot_roc(crops.labels, probabilities, out_dir / "roc.png", title=title)
    )
    metrics["reliability_png"] = str(
        plot_reliability(crops.labels, probabilities, out_dir / "reliability.png", title=title)
    )
    (out_dir / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    log(format_metrics(metrics))
    return metrics
