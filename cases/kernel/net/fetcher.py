"""The safe HTTP client for suspect URLs: one GET, redirects followed by hand.

Every hop goes through the network policy (cases.kernel.net.policy): the URL is checked,
then one request goes over a fresh connection pinned to a checked address
(cases.kernel.net.connection) and its body is read under the caps
(cases.kernel.net.limits). A redirect is never followed blindly: its Location is checked
as a new URL, up to `policy.max_redirects` times.

`fetch` never raises for refusals or network failures: it returns a FetchResult with an
`outcome` code (cases.kernel.net.outcome) and a readable reason, which the capture records
as evidence of what happened.
"""

from __future__ import annotations

import http.client
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urljoin

from cases.kernel.net.connection import (
    Connector,
    Resolver,
    Watchdog,
    connection_open,
    direct_connector,
    pinned_addresses,
    system_resolver,
)
from cases.kernel.net.limits import Body, body_read, read_failure
from cases.kernel.net.outcome import Deadline, Failure, FetchOutcome
from cases.kernel.net.policy import Policy, PolicyRefused, Target, check_url

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass
class Hop:
    """One request and its response (a redirect, or the final answer)."""

    url: str
    ip: str
    port: int
    local_ip: str  # the collecting machine's address for this connection
    request_headers: list[tuple[str, str]]
    status: int
    reason: str
    http_version: str
    headers: list[tuple[str, str]]  # as received, in order, duplicates kept
    location: str = ""  # the resolved Location of a redirect


@dataclass
class FetchResult:
    requested_url: str
    final_url: str  # the last URL tried (the refused one when a redirect was refused)
    outcome: FetchOutcome
    started_at: datetime
    finished_at: datetime
    elapsed: float
    redirects: list[Hop] = field(default_factory=list)
    final: Hop | None = None  # the last response received, if any
    body: bytes = b""  # decoded (gzip/deflate removed), capped
    raw_body: bytes = b""  # as received on the wire after de-chunking, capped
    content_decoded: bool = False  # False when the body had no or an unknown encoding
    truncated: bool = False
    refused_reason: str = ""
    error: str = ""

    @property
    def refused(self) -> bool:
        return self.outcome == FetchOutcome.REFUSED

    @property
    def ok(self) -> bool:
        return self.outcome == FetchOutcome.OK

    @property
    def status_code(self) -> int | None:
        return self.final.status if self.final else None

    @property
    def headers(self) -> list[tuple[str, str]]:
        return self.final.headers if self.final else []

    @property
    def ip(self) -> str | None:
        return self.final.ip if self.final else None

    @property
    def redirect_chain(self) -> list[tuple[str, int, str]]:
        return [(hop.url, hop.status, hop.location) for hop in self.redirects]

    @property
    def message(self) -> str:
        return self.refused_reason or self.error


def _request_headers(target: Target, policy: Policy) -> list[tuple[str, str]]:
    return [
        ("Host", target.host_header),
        ("User-Agent", policy.user_agent),
        ("Accept", "text/html,application/xhtml+xml,*/*;q=0.8"),
        # Only codings we can decode with a cap; never brotli/zstd we would store undecoded.
        ("Accept-Encoding", "gzip, deflate"),
        ("Connection", "close"),
        *policy.extra_headers,
    ]


def _exchange(
    target: Target,
    policy: Policy,
    resolver: Resolver,
    connector: Connector,
    deadline: Deadline,
) -> tuple[Hop, Body | None]:
    """One request on a fresh connection to a pinned address. The body of a redirect is
    not read (None): only its status and headers matter."""
    addresses = pinned_addresses(target, policy, resolver, deadline)
    sock, ip = connection_open(target, addresses, policy, connector, deadline)
    watchdog = Watchdog(sock, deadline)
    connection = http.client.HTTPConnection(ip, target.port)
    connection.sock = sock  # http.client never connects (or looks anything up) itself
    try:
        local_ip = str(sock.getsockname()[0])
        request_headers = _request_headers(target, policy)
        try:
            sock.settimeout(deadline.budget(policy.read_timeout))
            connection.request("GET", target.request_target, headers=dict(request_headers))
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as exc:
            failure = read_failure(exc, deadline, "The server sent no valid HTTP response")
            raise failure from exc
        headers = [(str(name), str(value)) for name, value in response.getheaders()]
        hop = Hop(
            url=target.url,
            ip=ip,
            port=target.port,
            local_ip=local_ip,
            request_headers=request_headers,
            status=response.status,
            reason=response.reason,
            http_version="HTTP/1.1" if response.version == 11 else "HTTP/1.0",
            headers=headers,
        )
        if hop.status in REDIRECT_STATUSES and _location(hop):
            return hop, None
        return hop, body_read(response, sock, headers, policy, deadline)
    finally:
        watchdog.cancel()
        connection.close()  # closes the response too, so the descriptor is really released
        sock.close()


def _location(hop: Hop) -> str:
    for name, value in hop.headers:
        if name.lower() == "location":
            try:
                # http.client decodes header bytes as Latin-1; browsers read Location as UTF-8.
                return value.strip().encode("latin-1").decode("utf-8")
            except UnicodeError:
                return value.strip()
    return ""


def fetch(
    url: str,
    policy: Policy,
    *,
    resolver: Resolver | None = None,
    connector: Connector | None = None,
) -> FetchResult:
    """GET `url` under `policy`, following up to `policy.max_redirects` redirects, each
    re-checked in full. Never raises for refusals or network failures."""
    resolver = resolver or system_resolver
    connector = connector or direct_connector
    started_at = datetime.now(UTC)
    clock = time.monotonic()
    deadline = Deadline(policy.total_deadline)
    result = FetchResult(
        requested_url=url,
        final_url=url,
        outcome=FetchOutcome.OK,
        started_at=started_at,
        finished_at=started_at,
        elapsed=0.0,
    )
    current = url
    try:
        while True:
            result.final_url = current
            target = check_url(current, policy)
            result.final_url = target.url
            hop, body = _exchange(target, policy, resolver, connector, deadline)
            result.final = hop
            if body is not None:
                result.body, result.raw_body = body.decoded, body.raw
                result.content_decoded, result.truncated = body.content_decoded, body.truncated
                if body.failure:
                    raise body.failure
                break
            location = _location(hop)
            try:
                hop.location = urljoin(target.url, location)
            except ValueError as exc:  # a server's "Location: http://[::1/"
                hop.location = location
                result.redirects.append(hop)
                raise PolicyRefused(f"The redirect target cannot be parsed ({exc}).") from exc
            result.redirects.append(hop)
            if len(result.redirects) > policy.max_redirects:
                raise Failure(
                    FetchOutcome.TOO_MANY_REDIRECTS,
                    f"More than {policy.max_redirects} redirects; stopped at {hop.location}.",
                )
            current = hop.location
    except PolicyRefused as exc:
        result.outcome = FetchOutcome.REFUSED
        result.refused_reason = exc.reason
    except Failure as failure:
        result.outcome = failure.outcome
        result.error = failure.message
    result.finished_at = datetime.now(UTC)
    result.elapsed = time.monotonic() - clock
    return result


# Resolver and Connector are the types of fetch's parameters, named here for its callers.
__all__ = [
    "REDIRECT_STATUSES",
    "Connector",
    "FetchResult",
    "Hop",
    "Resolver",
    "fetch",
]
