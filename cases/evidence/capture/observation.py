"""What one visit says about the content: live, removed, or nothing at all (pure, no ORM).

The difference matters because a removal closes notices and counts in statistics. Only
positive evidence from the platform says "removed":
- an HTTP 404, 410 or 451 answered by the server, or
- a 2xx page that the platform shows in place of removed content, recognised by one of the
  platform's removal signatures (an admin-editable table, cases.models.RemovalSignature),
  and only on the hosts of that platform: the same words on another site prove nothing.

Everything else that keeps us from seeing the content is *unreachable*: a DNS failure, a
refused or timed-out connection, a TLS error, a 5xx, a protocol error, a time limit, any
other 3xx/4xx (a login wall, rate limiting, geo-blocking). That is a statement about the
collector's view of the network, not about the content, and it never moves a finding.
A visit the network policy refused is *refused*: no request was made at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex
from django.db.models.enums import TextChoices
from django.utils.translation import gettext_lazy as _

from cases.kernel.net.outcome import FetchOutcome

REMOVED_STATUSES = frozenset({404, 410, 451})
# A signature's regular expression runs on text the suspect page controls: a pattern with
# catastrophic backtracking must not hang the capture worker, so each match is capped.
REGEX_TIMEOUT_S = 0.5
# Visible text beyond this is not searched (removal pages are short).
MAX_TEXT_CHARS = 200_000


class Observation(TextChoices):
    LIVE = "live", _("Online")
    REMOVED = "removed", _("Removed")
    UNREACHABLE = "unreachable", _("Unreachable")
    REFUSED = "refused", _("Refused by the network policy")


@dataclass(frozen=True)
class RemovalSignature:
    """A platform's "content unavailable" page: a phrase (case-insensitive substring) or a
    regular expression (case-insensitive search) on the page's visible text, applied only
    when the page was served by one of `domains` (or a subdomain)."""

    name: str
    domains: tuple[str, ...]
    pattern: str
    is_regex: bool = False

    def applies_to(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return any(host == d or host.endswith(f".{d}") for d in self.domains if d)

    def matches(self, text: str) -> bool:
        """`text` as normalise_text() returns it. A regex that runs out of time does not
        match (and the capture says so in its details)."""
        if not self.is_regex:
            return normalise_text(self.pattern) in text
        return compile_signature(self.pattern).search(text, timeout=REGEX_TIMEOUT_S) is not None


def compile_signature(pattern: str) -> regex.Pattern[str]:
    """Raises regex.error for an invalid pattern (the admin form shows its message)."""
    return regex.compile(pattern, regex.IGNORECASE | regex.V0)


def normalise_text(text: str) -> str:
    """Lower case, typographic apostrophes as ASCII, runs of white space as one space."""
    text = text[:MAX_TEXT_CHARS].lower().replace("\u2019", "'").replace("\u2018", "'")
    return " ".join(text.split())


def removal_signature_match(
    signatures: tuple[RemovalSignature, ...], *, host: str, text: str
) -> tuple[RemovalSignature | None, list[str]]:
    """The first signature of the host's platform found in the visible text, and the
    names of signatures whose regex timed out."""
    normalised = normalise_text(text)
    timed_out: list[str] = []
    for signature in signatures:
        if not signature.applies_to(host):
            continue
        try:
            if signature.matches(normalised):
                return signature, timed_out
        except TimeoutError:
            timed_out.append(signature.name)
    return None, timed_out


def classify(
    *,
    status: str,
    outcome: str,
    http_status: int | None,
    removal_page: RemovalSignature | None,
) -> tuple[str, str]:
    """(Observation value, reason code) of one visit. `status` is the capture status
    ("done", "failed", "refused"), `outcome` the fetch outcome, `removal_page` the
    signature the page matched."""
    if status == "refused":
        return Observation.REFUSED, "refused"
    if status != "done" or http_status is None:
        # No answer to judge: the network failed us (outcome says how).
        return Observation.UNREACHABLE, outcome or "no_response"
    if http_status in REMOVED_STATUSES:
        return Observation.REMOVED, f"http_{http_status}"
    if 200 <= http_status < 300:
        if removal_page is not None:
            return Observation.REMOVED, f"removed_page: {removal_page.name}"
        return Observation.LIVE, f"http_{http_status}"
    return Observation.UNREACHABLE, f"http_{http_status}"


def reason_label(reason: str) -> str:
    """The reason code of an observation in words ("http_404" → "HTTP 404")."""
    if reason.startswith("http_"):
        return f"HTTP {reason.removeprefix('http_')}"
    if reason.startswith("removed_page: "):
        return str(_("the platform's removal page (%(signature)s)")) % {
            "signature": reason.removeprefix("removed_page: ")
        }
    if reason in FetchOutcome.values:
        return str(FetchOutcome(reason).label)
    if reason == "no_response":
        return str(_("no response"))
    return reason
