"""A `celery -A agencyguard worker` subprocess for the integration tests, with its output
kept for failure messages. One class for every test that starts a real worker."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


class CeleryWorker:
    """`pool_args` choose the pool (`--pool solo`, or prefork with its concurrency);
    `own_group` starts it in its own process group, so that stopping or killing it also
    ends what it started (Chromium)."""

    def __init__(
        self,
        *,
        broker_url: str,
        database_url: str,
        queues: str,
        name: str,
        pool_args: Sequence[str] = ("--pool", "solo"),
        env: Mapping[str, str] | None = None,
        own_group: bool = False,
        output_chars: int = 6000,
    ) -> None:
        self.own_group = own_group
        self.output_chars = output_chars
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 (kept open for the worker's life)
            prefix=f"ag-{name}-", suffix=".log", delete=False
        )
        full_env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": broker_url,
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "DJANGO_SETTINGS_MODULE": "agencyguard.settings",
            # No RDAP lookups of test hosts from a worker (tests/conftest.py, same switch).
            "RDAP_LOOKUP_ON_RECORD": "0",
            **(env or {}),
        }
        command = [
            sys.executable, "-m", "celery", "-A", "agencyguard", "worker", *pool_args,
            "-Q", queues, "--without-mingle", "--without-gossip",
            "--loglevel", "INFO", "--hostname", f"{name}-{os.getpid()}@%h",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=full_env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=own_group,
        )

    def output(self) -> str:
        return Path(self.log.name).read_text(errors="replace")[-self.output_chars :]

    def pool_children(self) -> list[int]:
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in path.read_text().split()]

    def assert_alive(self) -> None:
        if self.process.poll() is not None:
            pytest.fail(f"celery worker exited with {self.process.returncode}:\n{self.output()}")

    def _signal(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            if self.own_group:
                os.killpg(self.process.pid, signum)
            else:
                self.process.send_signal(signum)

    def kill(self) -> None:
        """SIGKILL to the worker (and its group): no ack, no cleanup."""
        self._signal(signal.SIGKILL)
        self.process.wait(timeout=20)

    def stop(self) -> None:
        if self.process.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)
