"""The client's address of a request, behind a known number of trusted reverse proxies.

Each trusted proxy appends the address it saw to X-Forwarded-For (nginx's
$proxy_add_x_forwarded_for), and REMOTE_ADDR is the last proxy. A client can write anything
to the left of that header, so only the entries the trusted proxies appended count: with N
proxies the client is the N-th address from the right of [X-Forwarded-For..., REMOTE_ADDR].
With N = 0 (no proxy) the header is ignored entirely. Used by the login lockout
(AXES_CLIENT_IP_CALLABLE), its per-address limit, the login audit events and every rate
limit (cases.kernel.ratelimit; django-ratelimit through RATELIMIT_IP_META_KEY)."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _valid(address: str) -> str | None:
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The client's address, or None when the request carries none that is valid."""
    remote = request.META.get("REMOTE_ADDR", "")
    proxies = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0))
    if proxies <= 0:
        return _valid(remote)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    chain = [part.strip() for part in forwarded if part.strip()] + [remote]
    # Fewer entries than proxies: the request skipped the outer ones; the leftmost entry is
    # then the address that connected to the first proxy we trust.
    chosen = chain[max(0, len(chain) - 1 - proxies)]
    return _valid(chosen) or _valid(remote)


def client_ip_for_ratelimit(request: HttpRequest) -> str:
    """client_ip for django-ratelimit's RATELIMIT_IP_META_KEY, which needs an address: a
    request without a valid one shares the bucket of 0.0.0.0 (never a free pass)."""
    return client_ip(request) or "0.0.0.0"
