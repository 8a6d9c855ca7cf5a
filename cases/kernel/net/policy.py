"""The network policy for every server-side visit to a suspect URL (SSRF defence).

Pure functions, no Django. A suspect URL is chosen by whoever posted the deepfake, so it is
hostile input: it may point at our own network (``http://169.254.169.254/``), hide an
internal address in a numeric spelling (``http://0x7f.1/``) or in IPv6 (``[::ffff:127.0.0.1]``),
or play parser tricks with userinfo and backslashes. The rules:

* one parser (``urlsplit``) decides the host, and URLs where parsers disagree (userinfo,
  backslashes, control characters) are refused outright;
* numeric hosts are normalised the way browsers and libc read them, then checked;
* only globally routable unicast addresses pass, including the IPv4 address embedded in
  IPv6 forms, which ``ipaddress.is_global`` alone gets wrong on Python 3.11.

The fetcher resolves a name once per hop, checks every answer with ``check_address`` and
connects to the address it checked.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from urllib.parse import quote, unquote, urlsplit

import idna

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MAX_URL_LENGTH = 8192
SUPPORTED_SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}


class PolicyRefused(Exception):
    """The URL or address must not be visited; ``reason`` says why, in plain words."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Policy:
    """Limits for one fetch. Callers build it from settings (CAPTURE_ALLOWED_PORTS,
    CAPTURE_ALLOW_LOOPBACK_FOR_TESTS, ...); this module never reads settings itself."""

    allowed_schemes: frozenset[str] = SUPPORTED_SCHEMES
    allowed_ports: frozenset[int] = frozenset({80, 443})
    max_redirects: int = 5
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    total_deadline: float = 60.0
    max_body_bytes: int = 25 * 1024 * 1024
    max_decompressed_bytes: int = 100 * 1024 * 1024
    # Test suites only: lets a fetch reach a local test server on 127.0.0.0/8 or ::1. It
    # never allows any other non-global address, nor loopback hidden in an IPv6 form.
    allow_loopback: bool = False
    # A private CA bundle for TLS tests; None means the system's trusted CAs.
    ca_file: str | None = None
    user_agent: str = "AgencyGuard-Capture/1.0 (evidence collection for a legal team)"
    extra_headers: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        unsupported = set(self.allowed_schemes) - SUPPORTED_SCHEMES
        if unsupported:
            # The fetcher only speaks HTTP; a policy cannot open other schemes.
            raise ValueError(f"Unsupported schemes in policy: {sorted(unsupported)}")
        reserved = {"host", "connection", "accept-encoding", "content-length", "transfer-encoding"}
        if any(name.lower() in reserved for name, _value in self.extra_headers):
            # The Host header must always name the host that was checked.
            raise ValueError(f"extra_headers may not set any of {sorted(reserved)}.")
        if self.max_redirects < 0 or self.max_body_bytes <= 0 or self.max_decompressed_bytes <= 0:
            raise ValueError("Policy limits must be positive.")


# --- addresses ---------------------------------------------------------------------------

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

# IANA IPv4 special-purpose registry, plus multicast and reserved space. Order matters only
# for the reason shown: the most specific meaning comes first.
_IPV4_REFUSED: tuple[tuple[ipaddress.IPv4Network, str], ...] = (
    (_V4("255.255.255.255/32"), "the broadcast address"),
    (_V4("0.0.0.0/8"), "an unspecified ('this network') address"),
    (_V4("10.0.0.0/8"), "a private address"),
    (_V4("100.64.0.0/10"), "a carrier-grade NAT (shared) address"),
    (_V4("127.0.0.0/8"), "a loopback address"),
    (_V4("169.254.0.0/16"), "a link-local address (cloud metadata lives here)"),
    (_V4("172.16.0.0/12"), "a private address"),
    (_V4("192.0.0.0/24"), "an IETF protocol assignment address"),
    (_V4("192.0.2.0/24"), "a documentation address"),
    (_V4("192.88.99.0/24"), "a deprecated 6to4 relay address"),
    (_V4("192.168.0.0/16"), "a private address"),
    (_V4("198.18.0.0/15"), "a benchmarking address"),
    (_V4("198.51.100.0/24"), "a documentation address"),
    (_V4("203.0.113.0/24"), "a documentation address"),
    (_V4("224.0.0.0/4"), "a multicast address"),
    (_V4("240.0.0.0/4"), "a reserved address"),
)

_IPV6_REFUSED: tuple[tuple[ipaddress.IPv6Network, str], ...] = (
    (_V6("::/128"), "the unspecified address"),
    (_V6("::1/128"), "a loopback address"),
    (_V6("::ffff:0:0:0/96"), "an IPv4-translated address"),
    (_V6("::/96"), "an IPv4-compatible address (deprecated)"),
    (_V6("64:ff9b:1::/48"), "a local-use NAT64 address"),
    (_V6("100::/64"), "a discard-only address"),
    (_V6("2001::/32"), "a Teredo tunnel address"),
    (_V6("2001:db8::/32"), "a documentation address"),
    (_V6("2001::/23"), "an IETF protocol assignment address"),
    (_V6("3fff::/20"), "a documentation address"),
    (_V6("5f00::/16"), "a segment-routing address"),
    (_V6("fc00::/7"), "a unique-local (private) address"),
    (_V6("fe80::/10"), "a link-local address"),
    (_V6("fec0::/10"), "a site-local address"),
    (_V6("ff00::/8"), "a multicast address"),
)

_IPV6_MAPPED = _V6("::ffff:0:0/96")
_NAT64 = _V6("64:ff9b::/96")
_SIX_TO_FOUR = _V6("2002::/16")
_GLOBAL_UNICAST = _V6("2000::/3")
_V4_LOOPBACK = _V4("127.0.0.0/8")
_V6_LOOPBACK = ipaddress.IPv6Address("::1")


def _as_address(ip: str | IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return ip
    try:
        return ipaddress.ip_address(ip.strip("[]"))
    except ValueError as exc:
        raise PolicyRefused(f"'{ip}' is not an IP address.") from exc


def _embedded_v4(addr: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address a packet to `addr` really reaches, for the forms that embed one."""
    if addr in _IPV6_MAPPED:
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF), "an IPv4-mapped address"
    if addr in _NAT64:
        return ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF), "a NAT64 address"
    if addr in _SIX_TO_FOUR:
        return ipaddress.IPv4Address((int(addr) >> 80) & 0xFFFFFFFF), "a 6to4 address"
    return None


def check_address(ip: str | IPAddress, *, allow_loopback: bool = False) -> None:
    """Refuse (raise PolicyRefused) unless `ip` is a globally routable unicast address.

    `allow_loopback` exists for test suites only and allows plain 127.0.0.0/8 and ::1."""
    addr = _as_address(ip)
    if isinstance(addr, ipaddress.IPv6Address):
        if addr.scope_id:
            raise PolicyRefused(f"{addr} carries an interface zone; it is a local address.")
        embedded = _embedded_v4(addr)
        if embedded is not None:
            v4, form = embedded
            try:
                check_address(v4)  # the exemption for tests never extends to embedded forms
            except PolicyRefused as exc:
                raise PolicyRefused(f"{addr} is {form} that embeds {v4}: {exc.reason}") from exc
            return
        if allow_loopback and addr == _V6_LOOPBACK:
            return
        for network, meaning in _IPV6_REFUSED:
            if addr in network:
                raise PolicyRefused(f"{addr} is {meaning}.")
        if addr not in _GLOBAL_UNICAST:
            raise PolicyRefused(f"{addr} is outside the global unicast range (2000::/3).")
    else:
        if allow_loopback and addr in _V4_LOOPBACK:
            return
        for network4, meaning in _IPV4_REFUSED:
            if addr in network4:
                raise PolicyRefused(f"{addr} is {meaning}.")
    # Belt and braces: whatever the tables above miss, the standard library may know.
    if not addr.is_global:
        raise PolicyRefused(f"{addr} is not a globally routable address.")


# --- hosts -------------------------------------------------------------------------------

_FORBIDDEN_HOST_CHARS = frozenset(" #%/:<>?@[\\]^|\"'`{}")
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")


def _ipv4_number(part: str) -> int | None:
    """One part of a numeric IPv4 host, read like WHATWG/inet_aton: 0x hex, 0 octal."""
    if part[:2] in ("0x", "0X"):
        digits, base = part[2:], 16
    elif len(part) > 1 and part.startswith("0"):
        digits, base = part[1:], 8
    else:
        digits, base = part, 10
    if digits == "":
        return 0
    try:
        return int(digits, base) if digits.isalnum() and digits.isascii() else None
    except ValueError:
        return None


def _parse_ipv4(host: str) -> str | None:
    """The dotted IPv4 address a numeric host means (`2130706433`, `0x7f.1`, `0177.0.0.1`,
    `127.1`), None when `host` is a name. Raises PolicyRefused for malformed numbers."""
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()  # a trailing dot
    last = parts[-1]
    is_hex = last[:2] in ("0x", "0X") and _ipv4_number(last) is not None
    ends_in_number = last != "" and ((last.isascii() and last.isdigit()) or is_hex)
    if not ends_in_number:
        return None
    numbers = [_ipv4_number(part) if part else None for part in parts]
    if len(parts) > 4 or any(n is None for n in numbers):
        raise PolicyRefused(f"The host '{host}' looks like an IP address but is malformed.")
    values = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        raise PolicyRefused(f"The host '{host}' is an out-of-range IP address.")
    number = values[-1]
    for index, value in enumerate(values[:-1]):
        number += value << (8 * (3 - index))
    return str(ipaddress.IPv4Address(number))


def parse_host(host: str) -> str:
    """Canonical form of a URL host: an IP address string (numeric IPv4 spellings and IPv6
    literals normalised) or a lower-case ASCII (IDNA) domain name without trailing dot.

    Raises PolicyRefused when the host is empty or malformed."""
    text = host.strip()
    if not text:
        raise PolicyRefused("The URL has no host.")
    if text.startswith("[") or ":" in text:
        literal = text[1:-1] if text.startswith("[") and text.endswith("]") else text
        if "%" in literal:
            raise PolicyRefused("IPv6 zone identifiers are not allowed in URLs.")
        try:
            return str(ipaddress.IPv6Address(literal))
        except ValueError as exc:
            raise PolicyRefused(f"The host '{host}' is not a valid IPv6 address.") from exc
    # Browsers percent-decode the host before anything else: %31%32%37.0.0.1 is 127.0.0.1.
    try:
        decoded = unquote(text, errors="strict")
    except UnicodeDecodeError as exc:
        raise PolicyRefused(f"The host '{host}' has invalid percent-escapes.") from exc
    if any(ord(c) <= 0x20 or ord(c) == 0x7F or c in _FORBIDDEN_HOST_CHARS for c in decoded):
        raise PolicyRefused(f"The host '{host}' contains characters that are not allowed.")
    if decoded.isascii():
        name = decoded.lower()
    else:
        # UTS #46 mapping also turns full-width digits and dots into ASCII ones, which
        # must happen before the numeric check (full-width '127.0.0.1' is 127.0.0.1).
        try:
            name = idna.encode(decoded, uts46=True).decode("ascii")
        except idna.IDNAError as exc:
            raise PolicyRefused(f"The host '{host}' is not a valid domain name ({exc}).") from exc
    ipv4 = _parse_ipv4(name)
    if ipv4 is not None:
        return ipv4
    name = name.rstrip(".")
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.match(label) for label in labels):
        raise PolicyRefused(f"The host '{host}' is not a valid domain name.")
    return name


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def check_host_name(name: str, *, allow_loopback: bool = False) -> None:
    """Refuse names that can only mean a local machine, whatever DNS says about them."""
    if name == "localhost" or name.endswith(".localhost"):
        if allow_loopback:
            return
        # Chromium answers *.localhost itself, without DNS, so refuse by name.
        raise PolicyRefused(f"'{name}' is a local host name.")
    if "." not in name:
        # A single label goes through the resolver's search domains: an intranet name.
        raise PolicyRefused(f"'{name}' is not a public domain name.")


def check_host(host: str, *, allow_loopback: bool = False) -> str:
    """The host part of the policy, without DNS: parse `host` (numeric IPv4 spellings and
    IPv6 literals normalised), refuse a non-global address literal or a local name, and
    return the canonical host. Raises PolicyRefused.

    Capture applies it to every URL and redirect it visits; recording a finding applies it
    too (cases.intake.canonical), so both refuse the same hosts with the same reason. Names
    are only checked here; what they resolve to is checked when a capture connects."""
    name = parse_host(host)
    if is_ip_literal(name):
        check_address(name, allow_loopback=allow_loopback)
    else:
        check_host_name(name, allow_loopback=allow_loopback)
    return name


# --- URLs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A URL that passed the policy, in the exact form the fetcher will use."""

    url: str  # normalised: canonical host, no fragment, non-ASCII percent-encoded
    scheme: str
    host: str  # canonical host: an IP address string or an ASCII domain name
    port: int
    request_target: str  # path and query, sent on the request line
    host_header: str  # what goes in the Host header (and nowhere else decides the host)

    @property
    def is_ip_literal(self) -> bool:
        return is_ip_literal(self.host)


_PATH_SAFE = "!#$%&'()*+,/:;=?@[]~"


def check_url(url: str, policy: Policy) -> Target:
    """Apply the URL part of the policy (everything but DNS). Raises PolicyRefused."""
    if not url:
        raise PolicyRefused("The URL is empty.")
    if len(url) > MAX_URL_LENGTH:
        raise PolicyRefused(f"The URL is longer than {MAX_URL_LENGTH} characters.")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in url):
        # Browsers silently drop tabs and newlines inside URLs; urlsplit does not.
        raise PolicyRefused("The URL contains spaces or control characters.")
    if "\\" in url:
        # Browsers read '\' as '/', urlsplit does not: the two would see different hosts.
        raise PolicyRefused("The URL contains a backslash; parsers disagree about such URLs.")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise PolicyRefused(f"The URL cannot be parsed ({exc}).") from exc
    scheme = parts.scheme.lower()
    if scheme not in policy.allowed_schemes:
        shown = scheme or "(none)"
        raise PolicyRefused(f"The scheme '{shown}' is not allowed; only http and https are.")
    if "@" in parts.netloc:
        raise PolicyRefused("URLs with a user name or password ('user@host') are not allowed.")
    if not parts.netloc:
        raise PolicyRefused("The URL has no host.")
    try:
        explicit_port = parts.port
    except ValueError as exc:
        raise PolicyRefused("The port number is not valid.") from exc
    port = explicit_port if explicit_port is not None else DEFAULT_PORTS[scheme]
    if port not in policy.allowed_ports:
        allowed = ", ".join(str(p) for p in sorted(policy.allowed_ports))
        raise PolicyRefused(f"Port {port} is not allowed (allowed: {allowed}).")

    # urlsplit's hostname keeps brackets off IPv6 and lower-cases; take it raw for IPv6
    # zone detection and for percent-escapes.
    raw_host = parts.netloc.rsplit(":", 1)[0] if explicit_port is not None else parts.netloc
    if raw_host.endswith(":"):
        raw_host = raw_host[:-1]  # "host:" with an empty port
    host = check_host(raw_host, allow_loopback=policy.allow_loopback)

    bracketed = f"[{host}]" if ":" in host else host
    host_header = bracketed if port == DEFAULT_PORTS[scheme] else f"{bracketed}:{port}"
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    query = quote(parts.query, safe=_PATH_SAFE)
    request_target = f"{path}?{query}" if query else path
    return Target(
        url=f"{scheme}://{host_header}{request_target}",
        scheme=scheme,
        host=host,
        port=port,
        request_target=request_target,
        host_header=host_header,
    )
