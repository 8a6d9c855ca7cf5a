"""The exchange feed's wire format (docs/exchange.md), without Django: one page of a bank as
JSON bytes, its HMAC-SHA256 signature, and the checks a reader makes before it trusts a page.

A page is signed over the exact bytes served; the signature travels in the
`X-AgencyGuard-Signature` header as `sha256=<hex>`. A reader verifies with a constant-time
compare before parsing anything."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from typing import Any

from cases.matching.pdq.video import vpdq_compact_parse

FORMAT = "agencyguard-bank/1"
SIGNATURE_HEADER = "X-AgencyGuard-Signature"
LABELS = ("deepfake", "sexual", "defamatory")
MAX_PDQ_PER_SIGNAL = 64
# A video's vPDQ frames: one a second, so an hour of distinct frames (docs/exchange.md).
MAX_VPDQ_PER_SIGNAL = 3600

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")


class FeedError(Exception):
    """A page that must not be applied: bad signature, not our format, a malformed entry."""


def feed_sign(key: str, body: bytes) -> str:
    return "sha256=" + hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def feed_verify(key: str, body: bytes, signature: str) -> bool:
    """Constant-time compare of the expected signature with the one received."""
    return hmac.compare_digest(feed_sign(key, body).encode(), signature.strip().encode())


def feed_dumps(page: dict[str, Any]) -> bytes:
    """The page's bytes, the same for the same page (sorted keys, no spaces)."""
    return json.dumps(page, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


@dataclass(frozen=True)
class FeedEntry:
    id: str
    seq: int
    op: str  # "add" or "delete"
    sha256: str = ""
    md5: str = ""
    pdq: tuple[str, ...] = ()
    vpdq: tuple[str, ...] = ()  # threatexchange VpdqCompactFeature strings
    labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class FeedPage:
    cursor: int
    next_cursor: int
    has_more: bool
    entries: list[FeedEntry] = field(default_factory=list)


def _entry(raw: Any, cursor: int) -> FeedEntry:
    if not isinstance(raw, dict):
        raise FeedError("An entry is not an object.")
    signal_id, seq, op = raw.get("id"), raw.get("seq"), raw.get("op")
    if not isinstance(signal_id, str) or not _HEX64.match(signal_id):
        raise FeedError("An entry's id is not a SHA-256.")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq <= cursor:
        raise FeedError("An entry's seq is not after the cursor.")
    if op == "delete":
        return FeedEntry(id=signal_id, seq=seq, op=op)
    if op != "add":
        raise FeedError(f"Unknown op {op!r}.")
    sha256, md5 = raw.get("sha256"), raw.get("md5", "")
    pdq, labels = raw.get("pdq", []), raw.get("labels", [])
    if not isinstance(sha256, str) or not _HEX64.match(sha256):
        raise FeedError("An entry's sha256 is malformed.")
    if not isinstance(md5, str) or (md5 and not _HEX32.match(md5)):
        raise FeedError("An entry's md5 is malformed.")
    if not isinstance(pdq, list) or len(pdq) > MAX_PDQ_PER_SIGNAL:
        raise FeedError("An entry's pdq is not a list of at most 64 hashes.")
    if not all(isinstance(h, str) and _HEX64.match(h) for h in pdq):
        raise FeedError("An entry's PDQ hash is malformed.")
    vpdq = raw.get("vpdq", [])
    if not isinstance(vpdq, list) or len(vpdq) > MAX_VPDQ_PER_SIGNAL:
        raise FeedError(f"An entry's vpdq is not a list of at most {MAX_VPDQ_PER_SIGNAL} frames.")
    for feature in vpdq:
        try:
            vpdq_compact_parse(feature)
        except ValueError as exc:
            raise FeedError(f"An entry's vPDQ frame is malformed: {exc}") from exc
    if not isinstance(labels, list) or not all(label in LABELS for label in labels):
        raise FeedError("An entry has an unknown label.")
    return FeedEntry(
        id=signal_id,
        seq=seq,
        op=op,
        sha256=sha256,
        md5=md5,
        pdq=tuple(pdq),
        vpdq=tuple(vpdq),
        labels=tuple(dict.fromkeys(labels)),
    )


def feed_parse(body: bytes, *, cursor: int) -> FeedPage:
    """The page, checked: our format, the cursor asked for, entries in increasing seq."""
    try:
        raw = json.loads(body)
    except ValueError as exc:
        raise FeedError(f"The page is not JSON: {exc}") from exc
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        raise FeedError(f"The page is not in the {FORMAT} format.")
    if raw.get("cursor") != cursor:
        raise FeedError("The page answers another cursor than the one asked for.")
    signals, next_cursor = raw.get("signals"), raw.get("next_cursor")
    if not isinstance(signals, list) or not isinstance(next_cursor, int):
        raise FeedError("The page has no signals list or next cursor.")
    entries: list[FeedEntry] = []
    last = cursor
    for item in signals:
        entry = _entry(item, last)
        entries.append(entry)
        last = entry.seq
    if next_cursor != last:
        raise FeedError("The next cursor is not the last entry's seq.")
    return FeedPage(
        cursor=cursor,
        next_cursor=next_cursor,
        has_more=bool(raw.get("has_more")),
        entries=entries,
    )
