"""gunicorn settings module (`gunicorn -c python:agencyguard.gunicorn`, docker/entrypoint.sh
and bench/scale_1m.py).

Two hooks: garbage collection tuned for serving once a worker has loaded the app
(post_worker_init), and metrics of several gunicorn processes (agencyguard/metrics.py):
prometheus-client's multiprocess mode keeps each process's counters in files under
PROMETHEUS_MULTIPROC_DIR; the files of a process that exits are kept in the totals;
child_exit tidies up after it (prometheus-client's documented hook)."""

from __future__ import annotations

import gc
import os
from typing import Any

# Allocations between two collections of the youngest generation (Python's default: 700).
# A page allocates tens of thousands of short-lived objects (template nodes' output,
# query rows): at 700 a triage page ran some ten collections, at this about one in five
# pages does (docs/benchmarks.md, "Garbage collection").
GC_GEN0_THRESHOLD = 50_000


def post_worker_init(worker: Any) -> None:
    """Once the worker has loaded the app: what start-up built (modules, settings, URL
    patterns: about 130,000 objects that live as long as the process) is frozen out of the
    collector's reach (gc.freeze, as the gc documentation advises for pre-fork servers),
    so a full collection no longer walks it, and the youngest generation collects less
    often."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_GEN0_THRESHOLD, 20, 20)


def child_exit(server: Any, worker: Any) -> None:
    if os.getenv("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
