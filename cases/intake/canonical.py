"""URL canonicalisation: one URL, one key, whatever the tracking junk or spelling.

Pure functions (Django only for translating the error messages). The canonical form is what findings are deduplicated on.
What varies per agency (each platform's share parameters, from its platform table) and per
deployment (the test-only loopback switch) comes in as `UrlRules`; the caller builds them
once per request or import (cases.intake.services.url_rules)."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

import idna
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop as N_

from cases.kernel.net.policy import PolicyRefused, check_host

MAX_URL_LENGTH = 4096
ALLOWED_SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}

# Parameters that identify a click or a share, never the content itself.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "igshid",
        "igsh",
        "si",
        "mc_cid",
        "mc_eid",
        "_ga",
        "_gl",
        "ref_src",
        "ref_url",
        "s_cid",
        "mkt_tok",
        "oly_anon_id",
        "oly_enc_id",
        "vero_id",
        "spm",
        "share_id",
    }
)
TRACKING_PREFIXES = ("utm_", "pk_", "hsa_")

_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_QUERY_SAFE = ":@!$'()*,;/?"
_PCT = re.compile(r"%([0-9A-Fa-f]{2})")


class InvalidURL(ValueError):
    """The text cannot be recorded as a finding URL; the message says why, for the user.

    `code` (the untranslated message) and `params` are kept apart so a stored reason (an
    import report row) is rendered in its reader's language later; str() is the message
    in the active language."""

    def __init__(self, code: str, params: Mapping[str, Any] | None = None) -> None:
        self.code = code
        # Exceptions as parameters are stored as their text (JSON in the import report).
        self.params = {k: v if isinstance(v, int) else str(v) for k, v in (params or {}).items()}
        super().__init__(_(code) % self.params if self.params else _(code))


@dataclass(frozen=True)
class UrlRules:
    """What canonicalisation takes from outside: the share and tracking parameters of each
    platform, by domain (lower case, without a leading dot; a domain covers its
    subdomains), stripped on top of the global ones; and whether loopback hosts may be
    recorded (the test-only CAPTURE_ALLOW_LOOPBACK_FOR_TESTS switch, as at capture)."""

    platform_params: Mapping[str, frozenset[str]] = field(default_factory=dict)
    allow_loopback: bool = False

    def params_for(self, host: str) -> frozenset[str]:
        """The parameters of the platform whose domain is the longest suffix of `host`."""
        if not self.platform_params:
            return frozenset()
        labels = host.split(".")
        for start in range(len(labels) - 1):
            params = self.platform_params.get(".".join(labels[start:]))
            if params is not None:
                return params
        return frozenset()


NO_RULES = UrlRules()


@lru_cache(maxsize=8)
def _plain(safe: str) -> re.Pattern[str]:
    """Text made only of unreserved characters and those of `safe`: nothing to change."""
    return re.compile("[A-Za-z0-9\\-._~" + re.escape(safe) + "]*")


def _normalise_escapes(component: str, safe: str) -> str:
    """Decode escapes of unreserved characters, upper-case the others, and escape any raw
    character that is neither unreserved nor in `safe` (spaces, non-ASCII as UTF-8)."""
    if _plain(safe).fullmatch(component):  # no escape and nothing to escape: as it is
        return component
    return _normalise_escapes_full(component, safe)


def _normalise_escapes_full(component: str, safe: str) -> str:
    """_normalise_escapes character by character (the fast path's reference, in tests)."""

    def unescape(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else f"%{match.group(1).upper()}"

    out = []
    for piece in re.split(r"(%[0-9A-Fa-f]{2})", component):
        if (escape := _PCT.fullmatch(piece)) is not None:
            out.append(unescape(escape))
            continue
        for char in piece:
            if char in _UNRESERVED or char in safe:
                out.append(char)
            else:
                out.extend(f"%{byte:02X}" for byte in char.encode("utf-8"))
    return "".join(out)


def _remove_dot_segments(path: str) -> str:
    if path.startswith("/") and "/." not in path:  # no "." or ".." segment: as it is
        return path
    return _remove_dot_segments_full(path)


def _remove_dot_segments_full(path: str) -> str:
    """_remove_dot_segments segment by segment (the fast path's reference, in tests)."""
    segments: list[str] = []
    parts = path.split("/")
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        if part == ".":
            if last:
                segments.append("")
            continue
        if part == "..":
            if len(segments) > 1:
                segments.pop()
            if last:
                segments.append("")
            continue
        segments.append(part)
    result = "/".join(segments)
    return result if result.startswith("/") else "/" + result


@lru_cache(maxsize=8192)  # bulk imports repeat a few hosts; IDNA encoding is the slow part
def _host(netloc_host: str | None) -> str:
    if not netloc_host:
        raise InvalidURL(N_("The URL has no host name."))
    host = netloc_host.rstrip(".").lower()
    if host.startswith("[") or ":" in host:
        return host  # an IPv6 literal, already lower-cased
    try:
        ascii_host = idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise InvalidURL(
            N_("The host name '%(host)s' is not valid (%(error)s)."), {"host": host, "error": exc}
        ) from exc
    return ascii_host


@lru_cache(maxsize=8192)
def _policy_refusal(host: str, allow_loopback: bool) -> str | None:
    """Why the capture policy refuses `host` (a loopback, private, link-local or reserved
    address literal, or a local name), or None. No DNS: a name is not resolved here."""
    try:
        check_host(host, allow_loopback=allow_loopback)
    except PolicyRefused as exc:
        return exc.reason
    return None


def _check_host(host: str, rules: UrlRules) -> None:
    refusal = _policy_refusal(host, rules.allow_loopback)
    if refusal is not None:
        # The reason is the capture policy's own, word for word (what a capture of this URL
        # would say), so the two never disagree about a host.
        raise InvalidURL(
            N_("The network policy refuses this host: %(reason)s"), {"reason": refusal}
        )
    if "." not in host and ":" not in host:
        raise InvalidURL(
            N_("The host name '%(host)s' is not a public domain name."), {"host": host}
        )


def _check_brackets(netloc: str) -> None:
    """A bracketed host must be an IPv6 address followed by nothing or a port; urlsplit
    would otherwise drop what follows the bracket ("[::1]x") or pass an IPvFuture literal."""
    hostport = netloc.rpartition("@")[2]
    if not hostport.startswith("["):
        return
    inside, _bracket, after = hostport[1:].partition("]")
    if "%" in inside:  # a zone id names a network interface of the reporter's own machine
        raise InvalidURL(N_("An IPv6 address with a zone id cannot be recorded."))
    try:
        ipaddress.IPv6Address(inside)
    except ValueError as exc:
        raise InvalidURL(
            N_("The host name '%(host)s' is not valid (%(error)s)."), {"host": inside, "error": exc}
        ) from exc
    if after and not re.fullmatch(r":\d*", after):
        raise InvalidURL(N_("The port number is not valid."))


# A control character (below 0x20, or DEL) or a space: one regex scan, not a call per character.
_CONTROL_OR_SPACE = re.compile("[\x00-\x1f\x7f ]")


def canonicalize_url(raw: str, rules: UrlRules = NO_RULES) -> str:
    """Return the canonical form of `raw` or raise InvalidURL with a user-facing reason.

    `rules` adds the share parameters of the platform the host belongs to, and the
    loopback switch; without them only the global tracking parameters are stripped and
    loopback hosts are refused."""
    return canonicalize_url_host(raw, rules)[0]


# A host name host_of() gives back unchanged from a canonical URL (no brackets, no escapes).
_PLAIN_HOST = re.compile(r"[a-z0-9.\-]+")


def canonicalize_url_host(raw: str, rules: UrlRules = NO_RULES) -> tuple[str, str]:
    """(canonicalize_url(raw, rules), host_of() of it), without parsing the result again
    (bulk imports): the host as canonicalisation found it where it is a plain name."""
    text = (raw or "").strip()
    if not text:
        raise InvalidURL(N_("The URL is empty."))
    if len(text) > MAX_URL_LENGTH:
        raise InvalidURL(N_("The URL is longer than %(max)s characters."), {"max": MAX_URL_LENGTH})
    if _CONTROL_OR_SPACE.search(text):
        raise InvalidURL(N_("The URL contains spaces or control characters."))
    if "://" not in text:
        scheme_guess = text.split(":", 1)[0].lower()
        has_other_scheme = (
            ":" in text and scheme_guess.isalpha() and not re.match(r"^[^/]+:\d", text)
        )
        if has_other_scheme:
            raise InvalidURL(
                N_("Only http and https URLs can be recorded (got '%(scheme)s:')."),
                {"scheme": scheme_guess},
            )
        text = "https://" + text
    try:
        parts = urlsplit(text)
    except ValueError as exc:  # unbalanced or invalid IPv6 brackets, e.g. "http://[::1/"
        raise InvalidURL(N_("The URL cannot be read (%(error)s)."), {"error": exc}) from exc
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise InvalidURL(
            N_("Only http and https URLs can be recorded (got '%(scheme)s:')."), {"scheme": scheme}
        )
    try:
        port = parts.port
    except ValueError as exc:
        raise InvalidURL(N_("The port number is not valid.")) from exc
    _check_brackets(parts.netloc)
    host = _host(parts.hostname)
    _check_host(host, rules)
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"

    path = _remove_dot_segments(_normalise_escapes(parts.path or "/", safe="/:@!$&'()*+,;="))
    platform_params = rules.params_for(host)
    pairs = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key.lower() not in TRACKING_PARAMS
        and key.lower() not in platform_params
        and not key.lower().startswith(TRACKING_PREFIXES)
    ]
    pairs.sort()
    query = "&".join(
        f"{_normalise_escapes(k, safe=_QUERY_SAFE)}={_normalise_escapes(v, safe=_QUERY_SAFE)}"
        for k, v in pairs
    )
    canonical = urlunsplit((scheme, netloc, path, query, ""))
    return canonical, host if _PLAIN_HOST.fullmatch(host) else host_of(canonical)


def canonical_hash(canonical_url: str) -> str:
    return hashlib.sha256(canonical_url.encode("utf-8")).hexdigest()


def host_of(canonical_url: str) -> str:
    """The host of a URL, or "" when it has none or cannot be parsed (never raises)."""
    try:
        return urlsplit(canonical_url).hostname or ""
    except ValueError:
        return ""
