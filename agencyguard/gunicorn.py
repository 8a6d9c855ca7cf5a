"""gunicorn settings module (`gunicorn -c python:agencyguard.gunicorn`, docker/entrypoint.sh).

Metrics from several gunicorn processes (agencyguard/metrics.py): prometheus-client's
multiprocess mode keeps each process's counters in files under PROMETHEUS_MULTIPROC_DIR;
the files of a process that exits are kept in the totals; this tidies up after it (prometheus-client's documented hook)."""

from __future__ import annotations

import os
from typing import Any


def child_exit(server: Any, worker: Any) -> None:
    if os.getenv("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
