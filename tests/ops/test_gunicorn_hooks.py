"""agencyguard/gunicorn.py: the hooks every web worker runs (docker/entrypoint.sh)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from django.conf import settings

PROBE = """
import gc
from agencyguard import gunicorn
before = gc.get_threshold()
gunicorn.post_worker_init(None)
print(before[0], gc.get_threshold()[0], gc.get_freeze_count())
"""


def test_a_worker_freezes_its_start_up_heap_and_collects_less_often() -> None:
    # In a process of its own: the test process's collector is left as it is.
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=settings.BASE_DIR, capture_output=True, text=True,
        timeout=60, check=True,
    )  # fmt: skip
    default, tuned, frozen = map(int, result.stdout.split())
    assert (default, tuned) == (700, 50_000)
    assert frozen > 1_000  # the imported modules' objects, out of every collection


def test_the_web_container_and_the_1m_bench_use_these_hooks() -> None:
    for path in ("docker/entrypoint.sh", "bench/scale_1m.py"):
        text = (Path(settings.BASE_DIR) / path).read_text()
        assert "python:agencyguard.gunicorn" in text, path
