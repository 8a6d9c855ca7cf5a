"""Sentry is initialised only when SENTRY_DSN is set, with the Django and Celery
integrations and without personal data. Run in a subprocess: settings initialise it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = """
import json
import django
django.setup()
import sentry_sdk
client = sentry_sdk.get_client()
print(json.dumps({
    "active": client.is_active(),
    "pii": client.options.get("send_default_pii"),
    "integrations": sorted(client.integrations),
}))
"""


def sentry_state(dsn: str | None) -> dict[str, object]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "agencyguard.settings"}
    env.pop("SENTRY_DSN", None)
    if dsn is not None:
        env["SENTRY_DSN"] = dsn
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT],
        cwd=Path(__file__).resolve().parents[2],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    state: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return state


@pytest.mark.parametrize("dsn", [None, ""])
def test_without_a_dsn_nothing_is_initialised(dsn: str | None) -> None:
    assert sentry_state(dsn)["active"] is False


def test_with_a_dsn_errors_are_reported_without_personal_data() -> None:
    state = sentry_state("https://publickey@127.0.0.1:9/1")
    assert state["active"] is True
    assert state["pii"] is False
    assert {"django", "celery"} <= set(state["integrations"])  # type: ignore[call-overload]
