"""Shared helpers for bench scripts: Django set-up, timing and the `BENCH` line format.

Scripts run as `python bench/<name>.py` under bench/run.py, which points DATABASE_URL at a
database of their own (never the development one)."""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def var_dir() -> Path:
    """VAR_DIR as agencyguard/settings/ reads it (default: var/ in the checkout). Benches
    write nowhere else, except temporary folders they remove."""
    return Path(os.getenv("VAR_DIR", str(ROOT / "var")))


def setup_django() -> None:
    if os.getenv("AG_BENCH") != "1":
        sys.exit("run benches through `make bench` (bench/run.py): it sets up a separate database")
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "agencyguard.settings")
    import django

    django.setup()


def emit(name: str, value: float, unit: str) -> None:
    """One measured figure on its own line: `BENCH <name> <value> <unit>`."""
    if unit in ("queries", "rows", "events", "requests"):
        text = f"{value:.0f}"
    elif unit in ("ratio", "x"):
        text = f"{value:.3f}"
    else:
        text = f"{value:.1f}"
    print(f"BENCH {name} {text} {unit}", flush=True)


def note(text: str) -> None:
    print(f"  {text}", flush=True)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (p50 is the median of an odd count)."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(pct / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def summary(values: list[float]) -> str:
    return (
        f"n={len(values)} p50={percentile(values, 50):.1f} p95={percentile(values, 95):.1f} "
        f"mean={statistics.fmean(values):.1f}"
    )


@contextmanager
def timer() -> Iterator[Callable[[], float]]:
    """`with timer() as elapsed: ...` then `elapsed()` gives seconds."""
    start = time.perf_counter()
    end: list[float] = []
    yield lambda: (end[0] if end else time.perf_counter()) - start
    end.append(time.perf_counter())
