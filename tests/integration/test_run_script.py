"""`make run` starts the scheduler, and stopping it stops every process it started.

scripts/serve.sh, the services half of `make run` (scripts/run.sh runs it last, after set-up,
migrations and the demo data), runs here as it does there: the development server, a Celery
worker and Celery beat on the filesystem broker, in a temporary VAR_DIR on SQLite. Only the
re-check sweep's interval differs (CAPTURE_RECHECK_SWEEP_S=2 instead of 10 minutes). A
finding due for a re-check must get its re-check capture from the scheduler and have it run
by the worker; then one signal to the script must leave no process behind. Linux only (reads
/proc); needs neither PostgreSQL nor Redis.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)"),
]

ROOT = Path(__file__).resolve().parents[2]
SWEEP_S = 1
RECHECK_TIMEOUT_S = 45  # about 15 s on a 2-core machine at load 14
STOP_TIMEOUT_S = 25
DB_NAME = "agencyguard.sqlite3"

# Migrate a fresh database and record one finding in a status that is re-checked, never
# visited yet: due at the first sweep. Port 9 makes the re-check itself end at once, refused
# by the fetcher's policy (the port is checked before any name is resolved), without
# touching the network.
SEED = """
from django.core.management import call_command
import django
django.setup()
call_command("migrate", interactive=False, verbosity=0)
from cases.agency.services.tenancy import agency_create
from cases.intake.models import Finding, FindingStatus
from cases.intake.services.findings import finding_record
agency = agency_create(name="Run Script Agency", slug="run-script")
finding, _ = finding_record(agency=agency, url="http://example.com:9/clip.mp4", actor=None)
Finding.objects.filter(pk=finding.pk).update(status=FindingStatus.CAPTURED)
print(finding.pk)
"""


def _env(var_dir: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "VAR_DIR": str(var_dir),
        "DATABASE_URL": f"sqlite:///{var_dir / DB_NAME}",
        "CELERY_BROKER_URL": "filesystem://",
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "DJANGO_SETTINGS_MODULE": "agencyguard.settings",
        "DEBUG": "1",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A migrated SQLite database with one finding due for a re-check (built once; each test
    works on its own copy)."""
    var_dir = tmp_path_factory.mktemp("seed-var")
    result = subprocess.run(
        [sys.executable, "-c", SEED], cwd=ROOT, env=_env(var_dir),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-4000:]
    return var_dir / DB_NAME, int(result.stdout.split()[-1])


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _proc_stat(pid: int) -> tuple[str, int, int, int, int] | None:
    """(state, ppid, process group, session, start time) of a process, None once it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = raw.rsplit(")", 1)[1].split()
    return fields[0], int(fields[1]), int(fields[2]), int(fields[3]), int(fields[19])


def _all_pids() -> list[int]:
    return [int(entry.name) for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except (FileNotFoundError, ProcessLookupError):
        return ""


class Services:
    """scripts/serve.sh in a session of its own, and every process seen running under it."""

    def __init__(self, var_dir: Path) -> None:
        self.var_dir = var_dir
        self.output = (var_dir / "serve.out").open("w")
        env = _env(
            var_dir,
            ADDR=f"127.0.0.1:{_free_port()}",
            PY=sys.executable,
            CAPTURE_RECHECK_SWEEP_S=str(SWEEP_S),
            RUN_BEAT="1",
            STOP_GRACE_S="20",
        )
        self.process = subprocess.Popen(
            ["bash", str(ROOT / "scripts" / "serve.sh")], cwd=ROOT, env=env,
            stdout=self.output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        # pid -> (start time, command line); start times tell a reused pid from ours.
        self.seen: dict[int, tuple[int, str]] = {}

    def record(self) -> None:
        """Note every live process in the script's session or descending from it, with its
        latest command line."""
        table = {pid: stat for pid in _all_pids() if (stat := _proc_stat(pid)) is not None}
        ours = {self.process.pid}
        ours |= {pid for pid, stat in table.items() if stat[3] == self.process.pid}
        grew = True
        while grew:
            more = {pid for pid, stat in table.items() if stat[1] in ours} - ours
            ours |= more
            grew = bool(more)
        for pid in ours & table.keys():
            # A child read between fork and exec still shows its parent's command line
            # (bash serve.sh): read it again each time, keeping the latest one.
            command = _cmdline(pid)
            if pid not in self.seen or (self.seen[pid][0] == table[pid][4] and command):
                self.seen[pid] = (table[pid][4], command)

    def survivors(self) -> list[str]:
        """Processes seen earlier, or in their process groups or session, still running."""
        groups = {self.process.pid} | set(self.seen)
        left = []
        for pid in _all_pids():
            stat = _proc_stat(pid)
            if stat is None or stat[0] == "Z":  # a zombie is dead, waiting for its parent
                continue
            ours = pid in self.seen and self.seen[pid][0] == stat[4]
            if ours or stat[2] in groups or stat[3] == self.process.pid:
                left.append(f"{pid} {_cmdline(pid)}")
        return left

    def logs(self) -> str:
        parts = []
        for name in ("serve.out", "worker.log", "beat.log"):
            path = self.var_dir / name
            if path.exists():
                parts.append(f"--- {name}\n{path.read_text(errors='replace')[-3000:]}")
        return "\n".join(parts)

    def kill_all(self) -> None:
        """Last resort after a failed test: nothing may outlive it."""
        for pid in [self.process.pid, *self.seen]:
            stat = _proc_stat(pid)
            if stat is not None and (pid == self.process.pid or self.seen[pid][0] == stat[4]):
                os.kill(pid, signal.SIGKILL)
        if self.process.poll() is None:
            self.process.wait(timeout=10)
        self.output.close()


@pytest.fixture
def services(seeded: tuple[Path, int], tmp_path: Path) -> Iterator[Services]:
    var_dir = tmp_path / "var"
    var_dir.mkdir()
    shutil.copy(seeded[0], var_dir / DB_NAME)
    running = Services(var_dir)
    yield running
    running.kill_all()


def _recheck_status(var_dir: Path, finding_id: int) -> str | None:
    with closing(sqlite3.connect(var_dir / DB_NAME, timeout=5)) as db:
        row = db.execute(
            "SELECT status FROM cases_capture WHERE finding_id = ? AND is_recheck = 1",
            (finding_id,),
        ).fetchone()
    return row[0] if row else None


@pytest.mark.parametrize(
    ("signum", "exit_status"),
    # SIGINT (Ctrl-C) takes the same path; a third run would add 10 to 20 seconds.
    [(signal.SIGTERM, 143), (signal.SIGHUP, 129)],
    ids=["SIGTERM", "SIGHUP"],
)
def test_scheduler_queues_a_due_recheck_and_a_signal_stops_every_process(
    services: Services, seeded: tuple[Path, int], signum: int, exit_status: int
) -> None:
    _, finding_id = seeded
    assert _recheck_status(services.var_dir, finding_id) is None

    # The scheduler sends the sweep, the worker runs it (a re-check capture row appears),
    # then runs the capture it queued (refused: port 9 is not allowed).
    deadline = time.monotonic() + RECHECK_TIMEOUT_S
    status = None
    while status in (None, "queued", "running") and time.monotonic() < deadline:
        services.record()
        if services.process.poll() is not None:
            pytest.fail(f"serve.sh exited with {services.process.returncode}:\n{services.logs()}")
        time.sleep(0.25)
        status = _recheck_status(services.var_dir, finding_id)
    assert status == "refused", f"re-check capture: {status}\n{services.logs()}"
    services.record()

    commands = [command for _, command in services.seen.values()]
    for service in (" worker ", " beat ", " runserver "):
        assert any(service in f"{command} " for command in commands), (service, commands)
    # beat keeps its schedule under VAR_DIR, not in the current directory.
    assert list(services.var_dir.glob("celerybeat-schedule*"))
    assert not list(ROOT.glob("celerybeat-schedule*"))

    services.process.send_signal(signum)
    try:
        returncode = services.process.wait(timeout=STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        pytest.fail(
            f"serve.sh still running {STOP_TIMEOUT_S}s after the signal:\n{services.logs()}"
        )
    left = services.survivors()
    assert not left, f"still running after serve.sh exited: {left}\n{services.logs()}"
    assert returncode == exit_status, services.logs()
    # Every service stopped on SIGTERM, within the grace period: nothing had to be killed.
    assert "killing what is left" not in services.logs()
