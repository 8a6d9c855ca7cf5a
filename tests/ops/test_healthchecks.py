"""Container health checks of worker and beat: beat's scheduler loop refreshes a heartbeat
file on every pass, `docker/healthcheck.py file` fails once it is older than the limit, and
compose wires both (docs/deploy.md "Health checks")."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from agencyguard.beat import HeartbeatScheduler
from agencyguard.celery import app as celery_app

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "docker" / "healthcheck.py"


@pytest.fixture(scope="module")
def healthcheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location("healthcheck", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def aged(path: Path, seconds: float) -> Path:
    path.touch()
    then = time.time() - seconds
    os.utime(path, (then, then))
    return path


def test_a_fresh_heartbeat_is_healthy(healthcheck, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert healthcheck.check_file(str(aged(tmp_path / "hb", 5)), 180) == 0


def test_a_stale_heartbeat_is_unhealthy(healthcheck, tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert healthcheck.check_file(str(aged(tmp_path / "hb", 181)), 180) == 1
    assert "limit 180 s" in capsys.readouterr().err


def test_a_missing_heartbeat_is_unhealthy(healthcheck, tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert healthcheck.check_file(str(tmp_path / "never-written"), 180) == 1


def test_the_age_is_measured_against_the_clock(healthcheck, tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = aged(tmp_path / "hb", 0)
    assert healthcheck.check_file(str(path), 60, now=time.time() + 59) == 0
    assert healthcheck.check_file(str(path), 60, now=time.time() + 61) == 1


@pytest.mark.parametrize(("age", "code"), [(10, 0), (400, 1)])
def test_the_command_line_exit_status(tmp_path, age: float, code: int) -> None:  # type: ignore[no-untyped-def]
    path = aged(tmp_path / "hb", age)
    done = subprocess.run([sys.executable, str(SCRIPT), "file", str(path), "300"], check=False)
    assert done.returncode == code


def test_every_scheduler_pass_refreshes_the_heartbeat(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    heartbeat = aged(tmp_path / "beat-heartbeat", 1000)
    settings.BEAT_HEARTBEAT_FILE = str(heartbeat)
    scheduler = HeartbeatScheduler(
        app=celery_app, schedule_filename=str(tmp_path / "schedule"), lazy=True
    )
    scheduler.setup_schedule()
    try:
        delay = scheduler.tick()
        assert time.time() - heartbeat.stat().st_mtime < 5
        assert 0 <= delay <= settings.CELERY_BEAT_MAX_LOOP_INTERVAL
    finally:
        scheduler.close()


def test_an_unwritable_heartbeat_does_not_stop_beat(settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings.BEAT_HEARTBEAT_FILE = str(tmp_path / "missing-folder" / "beat-heartbeat")
    scheduler = HeartbeatScheduler(
        app=celery_app, schedule_filename=str(tmp_path / "schedule"), lazy=True
    )
    scheduler.setup_schedule()
    try:
        scheduler.tick()  # logged, not raised
    finally:
        scheduler.close()


def test_compose_checks_workers_by_ping_and_beat_by_heartbeat() -> None:
    services = yaml.safe_load((ROOT / "docker" / "compose.yaml").read_text())["services"]
    worker = " ".join(services["worker"]["healthcheck"]["test"])
    assert "inspect ping" in worker
    assert "-d worker@$${HOSTNAME}" in worker or "-d worker@$$HOSTNAME" in worker
    detection = " ".join(services["worker-detection"]["healthcheck"]["test"])
    assert "-d detection@$$HOSTNAME" in detection
    beat = services["beat"]["healthcheck"]["test"]
    assert beat[:4] == ["CMD", "python", "/app/docker/healthcheck.py", "file"]
