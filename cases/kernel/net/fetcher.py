"""The safe HTTP client for suspect URLs: one GET, redirects followed by hand.

Every hop goes through the policy in `netpolicy`: the URL is checked, the name is resolved
exactly once, every answer is checked, and the socket is opened to an address that was
checked (never a second lookup, so DNS rebinding has nothing to race). TLS is verified
against the URL's host name while connected to the pinned address. Time, raw body size
and decompressed size are capped; a watchdog closes the socket at the total deadline, so a
server that drips bytes cannot hold a worker.

`fetch` never raises for refusals or network failures: it returns a FetchResult with an
`outcome` code and a readable reason, which the capture records as evidence of what
happened.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urljoin

from django.db.models.enums import TextChoices
from django.utils.translation import gettext_lazy as _

from cases.kernel.net.policy import Policy, PolicyRefused, Target, check_address, check_url

Resolver = Callable[[str, int], list[str]]
Connector = Callable[[str, int, float], socket.socket]

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CHUNK = 64 * 1024


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


class _Failure(Exception):
    def __init__(self, outcome: FetchOutcome, message: str) -> None:
        super().__init__(message)
        self.outcome = outcome
        self.message = message


class _BodyTooLarge(Exception):
    pass


def system_resolver(host: str, port: int) -> list[str]:
    """All addresses for `host`, in the order the system resolver gives them."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    addresses: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        if sockaddr[0] not in addresses:
            addresses.append(str(sockaddr[0]))
    return addresses


def direct_connector(ip: str, port: int, timeout: float) -> socket.socket:
    """A TCP connection to a numeric address: no name lookup can happen here."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect((ip, port))
    except BaseException:
        sock.close()
        raise
    return sock


class _Deadline:
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
            raise _Failure(FetchOutcome.DEADLINE_EXCEEDED, "The total time limit was exceeded.")
        return min(limit, remaining)


def _resolve(host: str, port: int, resolver: Resolver, deadline: _Deadline) -> list[str]:
    """Call the resolver once, in a thread so that a hanging lookup respects the deadline."""
    answers: list[str] = []
    errors: list[Exception] = []

    def run() -> None:
        try:
            answers.extend(resolver(host, port))
        except Exception as exc:
            errors.append(exc)

    worker = threading.Thread(target=run, daemon=True, name=f"resolve {host}")
    worker.start()
    worker.join(max(deadline.remaining(), 0))
    if worker.is_alive():
        raise _Failure(FetchOutcome.DNS_ERROR, f"Resolving {host} took longer than the time limit.")
    if errors:
        raise _Failure(FetchOutcome.DNS_ERROR, f"{host} could not be resolved ({errors[0]}).")
    addresses = list(answers)
    if not addresses:
        raise _Failure(FetchOutcome.DNS_ERROR, f"{host} has no addresses.")
    return [str(address) for address in addresses]


def _pinned_addresses(
    target: Target, policy: Policy, resolver: Resolver, deadline: _Deadline
) -> list[str]:
    """The checked addresses for this hop. Any refused answer refuses the hop: a mixed
    answer (one public, one internal) is how rebinding attacks hedge their bets."""
    if target.is_ip_literal:
        return [target.host]  # already checked by check_url
    addresses = _resolve(target.host, target.port, resolver, deadline)
    for address in addresses:
        try:
            check_address(address, allow_loopback=policy.allow_loopback)
        except PolicyRefused as exc:
            raise PolicyRefused(f"{target.host} resolves to {address}: {exc.reason}") from exc
    return addresses


def _tls_context(policy: Policy) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=policy.ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    return context


class _Watchdog:
    """Shuts the socket down when the total deadline passes, unblocking any read."""

    def __init__(self, sock: socket.socket, deadline: _Deadline) -> None:
        self.sock = sock
        self.deadline = deadline
        self.timer = threading.Timer(max(deadline.remaining(), 0), self._fire)
        self.timer.daemon = True
        self.timer.start()

    def _fire(self) -> None:
        # socket.socket.shutdown works on the descriptor of an SSLSocket too, without
        # touching its SSL state from this thread. A blocked read then sees end-of-file.
        self.deadline.expired = True
        with contextlib.suppress(OSError):
            socket.socket.shutdown(self.sock, socket.SHUT_RDWR)

    def cancel(self) -> None:
        self.timer.cancel()


def _open(
    target: Target, addresses: list[str], policy: Policy, connector: Connector, deadline: _Deadline
) -> tuple[socket.socket, str]:
    last_error: _Failure | None = None
    for ip in addresses:
        try:
            sock = connector(ip, target.port, deadline.budget(policy.connect_timeout))
        except TimeoutError:
            last_error = _Failure(
                FetchOutcome.CONNECT_TIMEOUT, f"Connecting to {ip} port {target.port} timed out."
            )
            continue
        except OSError as exc:
            last_error = _Failure(
                FetchOutcome.CONNECT_ERROR, f"Connecting to {ip} port {target.port} failed ({exc})."
            )
            continue
        if target.scheme != "https":
            return sock, ip
        try:
            sock.settimeout(deadline.budget(policy.connect_timeout))
            # server_hostname makes TLS verify the certificate against the URL's host,
            # even though the socket goes to the pinned address.
            return _tls_context(policy).wrap_socket(sock, server_hostname=target.host), ip
        except (ssl.SSLError, ssl.CertificateError) as exc:
            sock.close()
            raise _Failure(FetchOutcome.TLS_ERROR, f"TLS with {target.host} failed: {exc}") from exc
        except TimeoutError as exc:
            sock.close()
            raise _Failure(
                FetchOutcome.CONNECT_TIMEOUT, f"The TLS handshake with {target.host} timed out."
            ) from exc
        except OSError as exc:
            sock.close()
            raise _Failure(
                FetchOutcome.CONNECT_ERROR, f"TLS with {target.host} failed: {exc}"
            ) from exc
    assert last_error is not None
    raise last_error


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


class _Decoder:
    """Removes gzip/deflate content coding, refusing to produce more than `limit` bytes."""

    def __init__(self, coding: str, limit: int) -> None:
        self.coding = coding
        self.limit = limit
        self.produced = 0
        self.chunks: list[bytes] = []
        self.started = False
        self.finished = False
        self._obj = self._new()

    def _new(self) -> zlib._Decompress:
        return zlib.decompressobj(16 + zlib.MAX_WBITS if self.coding == "gzip" else zlib.MAX_WBITS)

    def _emit(self, data: bytes) -> None:
        self.produced += len(data)
        if self.produced > self.limit:
            self.chunks.append(data[: len(data) - (self.produced - self.limit)])
            raise _BodyTooLarge
        self.chunks.append(data)

    def feed(self, data: bytes) -> None:
        if not self.started and self.coding == "deflate" and data:
            self.started = True
            try:
                zlib.decompressobj().decompress(data[:2])
            except zlib.error:
                # Many servers send raw deflate without the zlib header.
                self._obj = zlib.decompressobj(-zlib.MAX_WBITS)
        while data and not self.finished:
            # max_length bounds the output of each step: a bomb never expands in memory.
            # (max_length=0 would mean "unlimited", hence the + 1.)
            self._emit(self._obj.decompress(data, self.limit - self.produced + 1))
            data = self._obj.unconsumed_tail
            if self._obj.eof:
                rest = self._obj.unused_data
                if self.coding == "gzip" and rest.startswith(b"\x1f\x8b"):
                    self._obj = self._new()  # a multi-member gzip body
                    data = rest
                else:
                    self.finished = True  # trailing junk after the stream is ignored

    def close(self) -> None:
        if not self.finished:
            self._emit(self._obj.flush())

    @property
    def output(self) -> bytes:
        return b"".join(self.chunks)


def _content_coding(headers: list[tuple[str, str]]) -> str:
    codings = [
        value.strip().lower()
        for name, raw in headers
        if name.lower() == "content-encoding"
        for value in raw.split(",")
        if value.strip() and value.strip().lower() != "identity"
    ]
    if not codings:
        return "identity"
    if len(codings) == 1 and codings[0] in ("gzip", "x-gzip", "deflate"):
        return "gzip" if codings[0] == "x-gzip" else codings[0]
    return "unknown"


@dataclass
class _Body:
    raw: bytes = b""
    decoded: bytes = b""
    content_decoded: bool = False
    truncated: bool = False
    failure: _Failure | None = None


def _read_body(
    response: http.client.HTTPResponse,
    sock: socket.socket,
    headers: list[tuple[str, str]],
    policy: Policy,
    deadline: _Deadline,
) -> _Body:
    body = _Body()
    declared = response.length
    if declared is not None and declared > policy.max_body_bytes:
        body.truncated = True
        body.failure = _Failure(
            FetchOutcome.BODY_TOO_LARGE,
            f"The body is too large: the server announced {declared} bytes "
            f"(limit {policy.max_body_bytes}).",
        )
        return body
    coding = _content_coding(headers)
    decoder = (
        _Decoder(coding, policy.max_decompressed_bytes) if coding in ("gzip", "deflate") else None
    )
    raw: list[bytes] = []
    received = 0
    try:
        while True:
            sock.settimeout(deadline.budget(policy.read_timeout))
            # read1 returns after one receive, so the caps and deadline are checked often;
            # asking for one byte more than the cap tells us the body is over it.
            chunk = response.read1(min(CHUNK, policy.max_body_bytes - received + 1))
            if not chunk:
                break
            received += len(chunk)
            if received > policy.max_body_bytes:
                chunk = chunk[: len(chunk) - (received - policy.max_body_bytes)]
                raw.append(chunk)
                if decoder:
                    decoder.feed(chunk)
                raise _BodyTooLarge
            raw.append(chunk)
            if decoder:
                decoder.feed(chunk)
        if deadline.passed:
            # The watchdog shut the socket down: what looks like the end is the deadline.
            raise _Failure(FetchOutcome.DEADLINE_EXCEEDED, "The total time limit was exceeded.")
        if declared is not None and received < declared:
            raise http.client.IncompleteRead(b"", declared - received)
        if decoder:
            decoder.close()
    except _BodyTooLarge:
        body.truncated = True
        body.failure = _Failure(
            FetchOutcome.BODY_TOO_LARGE,
            f"The body is too large (limits: {policy.max_body_bytes} bytes received, "
            f"{policy.max_decompressed_bytes} bytes decompressed).",
        )
    except zlib.error as exc:
        body.failure = _Failure(
            FetchOutcome.PROTOCOL_ERROR, f"The body could not be decompressed ({exc})."
        )
        decoder = None
    except http.client.IncompleteRead as exc:
        raw.append(exc.partial)
        decoder = None
        body.truncated = True
        body.failure = _failure_for_read_error(
            exc, deadline, "The server closed the connection early"
        )
    except (OSError, http.client.HTTPException) as exc:
        body.truncated = True
        body.failure = _failure_for_read_error(exc, deadline, "Reading the body failed")
    except _Failure as failure:  # the deadline, from deadline.budget
        body.truncated = True
        body.failure = failure
    body.raw = b"".join(raw)
    if decoder is not None:
        body.decoded, body.content_decoded = decoder.output, True
    else:
        body.decoded = body.raw
    return body


def _failure_for_read_error(exc: BaseException, deadline: _Deadline, what: str) -> _Failure:
    if deadline.passed:
        return _Failure(FetchOutcome.DEADLINE_EXCEEDED, "The total time limit was exceeded.")
    if isinstance(exc, TimeoutError):
        return _Failure(FetchOutcome.READ_TIMEOUT, "The server stopped sending data.")
    return _Failure(FetchOutcome.PROTOCOL_ERROR, f"{what} ({exc}).")


def _exchange(
    target: Target,
    policy: Policy,
    resolver: Resolver,
    connector: Connector,
    deadline: _Deadline,
) -> tuple[Hop, _Body | None]:
    """One request on a fresh connection to a pinned address. The body of a redirect is
    not read (None): only its status and headers matter."""
    addresses = _pinned_addresses(target, policy, resolver, deadline)
    sock, ip = _open(target, addresses, policy, connector, deadline)
    watchdog = _Watchdog(sock, deadline)
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
            failure = _failure_for_read_error(
                exc, deadline, "The server sent no valid HTTP response"
            )
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
        return hop, _read_body(response, sock, headers, policy, deadline)
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
    deadline = _Deadline(policy.total_deadline)
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
            hop.location = urljoin(target.url, _location(hop))
            result.redirects.append(hop)
            if len(result.redirects) > policy.max_redirects:
                raise _Failure(
                    FetchOutcome.TOO_MANY_REDIRECTS,
                    f"More than {policy.max_redirects} redirects; stopped at {hop.location}.",
                )
            current = hop.location
    except PolicyRefused as exc:
        result.outcome = FetchOutcome.REFUSED
        result.refused_reason = exc.reason
    except _Failure as failure:
        result.outcome = failure.outcome
        result.error = failure.message
    result.finished_at = datetime.now(UTC)
    result.elapsed = time.monotonic() - clock
    return result
