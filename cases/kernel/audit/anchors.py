"""Audit chain anchors: each agency's chain head (seq, hash, key id, time) written as a small
JSON record to write-once storage outside the database.

An anchor is the one thing a database-side attacker cannot move: a chain rewritten up to an
anchored event no longer ends in the anchored hash, and a chain cut shorter than an anchor
misses the anchored event. Records live at

    audit/anchors/<agency id>/<seq, 12 digits>-<hash>.json        the record
    audit/anchors/<agency id>/<seq, 12 digits>-<hash>.json.tsr    RFC 3161 token over it (with a TSA)

in the STORAGES alias "audit_anchors" when configured (its own bucket, with Object Lock),
else in the default storage, by the same write-once path as evidence originals
(cases.kernel.storage.record_put: never overwritten). The name carries seq and hash so the verifier
lists anchors without opening each one. Nothing here writes to the database."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.storage import Storage, default_storage, storages

from cases.kernel.storage import record_put

ANCHOR_FORMAT = "agencyguard.audit-anchor/1"
ANCHOR_PREFIX = "audit/anchors"
ANCHOR_NAME_RE = re.compile(r"^(\d{12})-([0-9a-f]{64})\.json$")


def anchor_storage() -> Storage:
    if "audit_anchors" in settings.STORAGES:
        return storages["audit_anchors"]
    return default_storage


@dataclass(frozen=True)
class AnchorRef:
    """An anchor as its name states it: which event, which hash."""

    agency_id: int
    seq: int
    hash: str

    @property
    def name(self) -> str:
        return f"{ANCHOR_PREFIX}/{self.agency_id}/{self.seq:012d}-{self.hash}.json"

    @property
    def token_name(self) -> str:
        return f"{self.name}.tsr"


@dataclass(frozen=True)
class AnchorRecord:
    """A stored anchor: its reference, the record's own content and SHA-256, and its token."""

    ref: AnchorRef
    content: dict[str, Any]
    sha256: str
    timestamped: bool

    @property
    def anchored_at(self) -> str:
        return str(self.content.get("anchored_at", ""))

    @property
    def key_id(self) -> str:
        return str(self.content.get("key_id", ""))


def anchor_record_bytes(content: dict[str, Any]) -> bytes:
    return (json.dumps(content, sort_keys=True, indent=1, ensure_ascii=False) + "\n").encode()


def anchor_list(agency_id: int) -> list[AnchorRef]:
    """Every anchor of an agency, by seq (names only; unreadable names are ignored)."""
    storage = anchor_storage()
    folder = f"{ANCHOR_PREFIX}/{agency_id}"
    try:
        _dirs, files = storage.listdir(folder)
    except FileNotFoundError:
        return []
    refs = []
    for name in files:
        match = ANCHOR_NAME_RE.match(name)
        if match:
            refs.append(AnchorRef(agency_id, int(match.group(1)), match.group(2)))
    return sorted(refs, key=lambda ref: (ref.seq, ref.hash))


def anchor_read(ref: AnchorRef) -> AnchorRecord:
    storage = anchor_storage()
    with storage.open(ref.name, "rb") as handle:
        data = handle.read()
    return AnchorRecord(
        ref=ref,
        content=json.loads(data),
        sha256=hashlib.sha256(data).hexdigest(),
        timestamped=storage.exists(ref.token_name),
    )


def anchor_put(ref: AnchorRef, content: dict[str, Any]) -> tuple[bytes, bool]:
    """Write a record once; (its bytes as stored, whether this call wrote it)."""
    data = anchor_record_bytes(content)
    written = record_put(ref.name, data, storage=anchor_storage())
    if not written:
        with anchor_storage().open(ref.name, "rb") as handle:
            data = handle.read()
    return data, written


def anchor_token_put(ref: AnchorRef, token: bytes) -> None:
    record_put(ref.token_name, token, storage=anchor_storage())
