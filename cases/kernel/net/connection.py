"""One connection to a suspect host, pinned to an address the policy checked.

The name is resolved exactly once, every answer is checked, and the socket is opened to an
address that was checked (never a second lookup, so DNS rebinding has nothing to race). TLS
is verified against the URL's host name while connected to the pinned address. A watchdog
shuts the socket down at the total deadline, so a server that drips bytes cannot hold a
worker.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Callable

from cases.kernel.net.outcome import Deadline, Failure, FetchOutcome
from cases.kernel.net.policy import Policy, PolicyRefused, Target, check_address

Resolver = Callable[[str, int], list[str]]
Connector = Callable[[str, int, float], socket.socket]


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


def _resolve(host: str, port: int, resolver: Resolver, deadline: Deadline) -> list[str]:
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
        raise Failure(FetchOutcome.DNS_ERROR, f"Resolving {host} took longer than the time limit.")
    if errors:
        raise Failure(FetchOutcome.DNS_ERROR, f"{host} could not be resolved ({errors[0]}).")
    addresses = list(answers)
    if not addresses:
        raise Failure(FetchOutcome.DNS_ERROR, f"{host} has no addresses.")
    return [str(address) for address in addresses]


def pinned_addresses(
    target: Target, policy: Policy, resolver: Resolver, deadline: Deadline
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


class Watchdog:
    """Shuts the socket down when the total deadline passes, unblocking any read."""

    def __init__(self, sock: socket.socket, deadline: Deadline) -> None:
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


def connection_open(
    target: Target, addresses: list[str], policy: Policy, connector: Connector, deadline: Deadline
) -> tuple[socket.socket, str]:
    """A socket to the first of `addresses` that answers (TLS-wrapped for https), and
    the address it went to."""
    last_error: Failure | None = None
    for ip in addresses:
        try:
            sock = connector(ip, target.port, deadline.budget(policy.connect_timeout))
        except TimeoutError:
            last_error = Failure(
                FetchOutcome.CONNECT_TIMEOUT, f"Connecting to {ip} port {target.port} timed out."
            )
            continue
        except OSError as exc:
            last_error = Failure(
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
            raise Failure(FetchOutcome.TLS_ERROR, f"TLS with {target.host} failed: {exc}") from exc
        except TimeoutError as exc:
            sock.close()
            raise Failure(
                FetchOutcome.CONNECT_TIMEOUT, f"The TLS handshake with {target.host} timed out."
            ) from exc
        except OSError as exc:
            sock.close()
            raise Failure(
                FetchOutcome.CONNECT_ERROR, f"TLS with {target.host} failed: {exc}"
            ) from exc
    assert last_error is not None
    raise last_error
