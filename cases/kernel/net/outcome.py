"""How a fetch ends: the outcome codes, the failure that carries one, and the time budget.

A fetch never raises for refusals or network failures. Inside the fetcher each failure is
a `Failure` with its `FetchOutcome`; `fetch` catches it and returns the outcome with a
readable reason, which the capture records as evidence of what happened.
"""

from __future__ import annotations

import time

from django.db.models.enums import TextChoices
from django.utils.translation import gettext_lazy as _


class FetchOutcome(TextChoices):
    OK = "ok", _("Fetched")
    REFUSED = "refused", _("Refused by the network policy")
    DNS_ERROR = "dns_error", _("Host name could not be resolved")
    CONNECT_TIMEOUT = "connect_timeout", _("Connection timed out")
    CONNECT_ERROR = "connect_error", _("Connection failed")
    TLS_ERROR = "tls_error", _("TLS certificate or handshake error")
    READ_TIMEOUT = "read_timeout", _("Server stopped responding")
    DEADLINE_EXCEEDED = "deadline_exceeded", _("Time limit exceeded")
    TOO_MANY_REDIRECTS = "too_many_redirects", _("Too many redirects")
    BODY_TOO_LARGE = "body_too_large", _("Body too large")
    PROTOCOL_ERROR = "protocol_error", _("Invalid HTTP response")


class Failure(Exception):
    """A fetch that ended without an answer to show, with its outcome and reason."""

    def __init__(self, outcome: FetchOutcome, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.message = message


class Deadline:
    """The total time one fetch may take, over every hop and every read."""

    def __init__(self, seconds: float) -> None:
        self.ends = time.monotonic() + seconds
        self.expired = False  # set by the watchdog when it closes a socket

    def remaining(self) -> float:
        return 0.0 if self.expired else self.ends - time.monotonic()

    @property
    def passed(self) -> bool:
        return self.remaining() <= 0

    def budget(self, limit: float) -> float:
        remaining = self.remaining()
        if remaining <= 0:
            raise Failure(FetchOutcome.DEADLINE_EXCEEDED, "The total time limit was exceeded.")
        return min(limit, remaining)
