"""API throttles: one budget per user, one per token, one per client address for anonymous
callers. Rates come from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] (env API_THROTTLE_*, see
agencyguard/settings/core.py), read when a request starts, so a changed setting applies at
once. A refused request is a 429 whose `Retry-After` says how many seconds to wait."""

from __future__ import annotations

import hashlib
from typing import Any

from rest_framework.authtoken.models import Token
from rest_framework.settings import api_settings
from rest_framework.throttling import AnonRateThrottle, SimpleRateThrottle, UserRateThrottle

from cases.kernel.net.clientip import client_ip_for_ratelimit


class _RateFromSettings:
    scope: str | None

    def get_rate(self) -> str | None:
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope or "")
        return None if rate is None else str(rate)


class AnonThrottle(_RateFromSettings, AnonRateThrottle):
    """Anonymous callers, by client address: the one rule of cases.kernel.net.clientip
    (TRUSTED_PROXY_COUNT), shared with every other rate limit and the login lockout."""

    def get_ident(self, request: Any) -> str:
        return client_ip_for_ratelimit(request)


class UserThrottle(_RateFromSettings, UserRateThrottle):
    """Every authenticated request of one user, by session or by any of her tokens."""

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if not request.user or not request.user.is_authenticated:
            return None  # AnonThrottle's
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class TokenThrottle(_RateFromSettings, SimpleRateThrottle):
    """Each API token on its own, so one runaway script does not spend the others' budget.
    The cache key holds a digest of the token, never the token."""

    scope = "token"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if not isinstance(request.auth, Token):
            return None
        digest = hashlib.sha256(request.auth.key.encode()).hexdigest()[:32]
        return self.cache_format % {"scope": self.scope, "ident": digest}
