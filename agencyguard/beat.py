"""Celery beat's scheduler with a heartbeat file, for the container health check of `beat`
(docs/deploy.md "Health checks").

The file's modification time is refreshed on every pass of the scheduler loop (`tick`), so a
fresh file proves the loop itself runs: a beat process that is alive but stuck (a hung
broker publish, a deadlock) stops refreshing it. A periodic task that touches a file would
prove a worker ran it, not that beat schedules. `docker/healthcheck.py file` compares the age
with a limit; the loop wakes at least every CELERY_BEAT_MAX_LOOP_INTERVAL seconds."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from celery.beat import PersistentScheduler
from django.conf import settings

log = logging.getLogger(__name__)


def heartbeat_touch(path: Path) -> bool:
    """Create the file or refresh its modification time; False (logged) when it cannot."""
    try:
        path.touch()
    except OSError:
        log.warning("cannot write the beat heartbeat file %s", path, exc_info=True)
        return False
    return True


class HeartbeatScheduler(PersistentScheduler):
    """The default scheduler (schedule kept in CELERY_BEAT_SCHEDULE_FILENAME) plus the
    heartbeat file."""

    def tick(self, *args: Any, **kwargs: Any) -> float:
        heartbeat_touch(Path(settings.BEAT_HEARTBEAT_FILE))
        return float(super().tick(*args, **kwargs))
