"""Rate limits for public pages: a moving window (the `limits` library), keyed on the client's
real address.

A fixed window (what django-ratelimit counts) lets a client send the whole allowance just
before a window ends and again just after, twice the rate within seconds. A moving window
counts the hits of the last `period` seconds at every moment, so no span of that length ever
holds more than the allowance.

Counts live in RATE_LIMIT_STORAGE_URL (Redis in production, shared by every web process).
When that storage cannot be reached the limit is counted in this process's memory instead
(for a minute at a time before Redis is tried again): the page keeps working during a cache
outage, and the limit still holds per web process (with N processes an address may get up to
N times the allowance while Redis is down). A warning is logged.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import re
import threading
import time
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from cases.kernel.net.clientip import client_ip

logger = logging.getLogger(__name__)

# django-ratelimit's notation, which FAN_REPORT_RATE has always used: 10/h, 2/m, 5/10m.
_SHORT_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*)\s*([smhd])\s*$")
_UNITS = {"s": "second", "m": "minute", "h": "hour", "d": "day"}
# After a failure the shared storage is left alone for this long.
RETRY_SHARED_AFTER_S = 60.0
# A Redis that accepts no connection must not hold the page up.
_REDIS_OPTIONS = {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    # Seconds until the next hit would be allowed (0 when allowed).
    retry_after: int
    # False: counted in this process's memory because the shared storage was unreachable.
    shared: bool


@lru_cache(maxsize=32)
def rate_parse(rate: str) -> RateLimitItem:
    """A rate as "10/h", "5/10m" or in the `limits` notation ("10 per hour")."""
    short = _SHORT_RATE.match(rate)
    text = f"{short[1]}/{short[2] or 1} {_UNITS[short[3]]}" if short else rate
    try:
        return parse(text)
    except ValueError as exc:
        raise ImproperlyConfigured(f"Not a rate: {rate!r} (e.g. 10/h, 5/10m)") from exc


class _Limiters:
    """The shared limiter (built on first use) and the in-process fallback."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.shared_uri = ""
        self.shared: MovingWindowRateLimiter | None = None
        self.shared_down_until = 0.0
        self.local = MovingWindowRateLimiter(MemoryStorage())

    def for_uri(self, uri: str) -> MovingWindowRateLimiter:
        with self.lock:
            if self.shared is None or uri != self.shared_uri:
                options = _REDIS_OPTIONS if uri.startswith(("redis", "rediss")) else {}
                storage = storage_from_string(uri, wrap_exceptions=True, **options)
                if not isinstance(storage, Storage):
                    raise ImproperlyConfigured(f"RATE_LIMIT_STORAGE_URL: not a storage: {uri}")
                self.shared, self.shared_uri = MovingWindowRateLimiter(storage), uri
            return self.shared


_limiters = _Limiters()


def rate_limit_reset() -> None:
    """Forget every count and storage (tests)."""
    global _limiters
    _limiters = _Limiters()


def rate_limit_hit(*, scope: str, key: str, rate: str) -> RateDecision:
    """Count one hit of `key` in `scope`; refused when the moving window is full."""
    item = rate_parse(rate)
    limiters = _limiters
    if time.monotonic() >= limiters.shared_down_until:
        try:
            return _hit(limiters.for_uri(settings.RATE_LIMIT_STORAGE_URL), item, scope, key, True)
        except StorageError as exc:
            limiters.shared_down_until = time.monotonic() + RETRY_SHARED_AFTER_S
            logger.warning(
                "Rate limit storage unreachable (%s); counting in this process for %.0f s",
                exc.storage_error,
                RETRY_SHARED_AFTER_S,
            )
    return _hit(limiters.local, item, scope, key, False)


def _hit(
    limiter: MovingWindowRateLimiter, item: RateLimitItem, scope: str, key: str, shared: bool
) -> RateDecision:
    if limiter.hit(item, scope, key):
        return RateDecision(allowed=True, retry_after=0, shared=shared)
    reset_at = limiter.get_window_stats(item, scope, key).reset_time
    return RateDecision(
        allowed=False, retry_after=max(1, math.ceil(reset_at - time.time())), shared=shared
    )


def client_address(request: HttpRequest) -> str:
    """The client's address as the rate limits key it: the one rule of
    cases.kernel.net.clientip (TRUSTED_PROXY_COUNT), shared with the login lockout and the
    audit trail. IPv6 addresses count per /64 (one household or host gets a whole /64)."""
    raw = client_ip(request)
    if raw is None:
        # A missing or garbled address: one shared bucket, never a free pass.
        return "unknown"
    address = ipaddress.ip_address(raw)
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False).network_address) + "/64"
    return str(address)
