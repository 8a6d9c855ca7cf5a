"""The id of the request (or task) this code runs for, so a log line, a queued job and the
task that runs it can be tied together (docs/deploy.md "Logs").

The web side binds it per request (agencyguard.middleware), the outbox stores it with each
queued message, and a task binds the id it was queued with while it runs."""

from __future__ import annotations

import contextvars
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

_current: contextvars.ContextVar[str] = contextvars.ContextVar("agencyguard_request_id", default="")

# What a proxy may hand us: short, printable, no separators that could forge a log field.
_VALID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def request_id_new() -> str:
    return uuid.uuid4().hex


def request_id_valid(value: str) -> bool:
    return bool(_VALID.match(value or ""))


def request_id_get() -> str:
    """The bound id, or "" outside any request or task."""
    return _current.get()


@contextmanager
def request_id_bound(value: str) -> Iterator[str]:
    """Bind `value` (a fresh id when empty or malformed) for the duration of the block."""
    value = value if request_id_valid(value) else request_id_new()
    token = _current.set(value)
    try:
        yield value
    finally:
        _current.reset(token)
