"""Reading settings from the environment; every settings module imports from here."""

from __future__ import annotations

import os
import re
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def envbool(name: str, default: str) -> bool:
    return os.getenv(name, default).lower() in ("1", "true", "yes", "on")


def envint(name: str, default: str) -> int:
    return int(os.getenv(name, default))


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.getenv(name, default).split(",") if item.strip()]


_RATE = re.compile(r"[0-9]+/(s|sec|second|m|min|minute|h|hour|d|day)")


def envrate(name: str, default: str) -> str | None:
    """A DRF throttle rate ("600/min"), or None for "off"; a typo stops the start instead
    of failing every API request."""
    value = os.getenv(name, default).strip()
    if value.lower() in ("", "off", "none"):
        return None
    if not _RATE.fullmatch(value):
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(
            f"{name}={value!r}: a throttle rate is <number>/<s|min|hour|day>, or 'off'"
        )
    return value


DEBUG = envbool("DEBUG", "1")
VAR_DIR = Path(os.getenv("VAR_DIR", str(BASE_DIR / "var")))
