"""The bytes an audit event's hash covers, and the hash: one definition, used when recording
(events, bulk rows) and when verifying (raw rows fetched in batches).

hash = HMAC-SHA256(key, prev_hash + canonical JSON of the event and its key id): the JSON
with sorted keys, no spaces and non-ASCII as UTF-8 (json.dumps(sort_keys=True,
separators=(",", ":"), ensure_ascii=False)); plain SHA-256 for a legacy event (key None)."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple

# One encoder built once: json.dumps with keyword arguments builds a new encoder for every
# call, which was a third of the hashing time.
canonical_json = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
).encode


def _hash_encoder() -> Any:
    """canonical_json for a dict, without the per-call set-up of JSONEncoder.encode: the C
    encoder made once with the same options (json.JSONEncoder.iterencode's own call: same
    bytes), or canonical_json where the C encoder is missing."""
    c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
    if c_make_encoder is None:
        return canonical_json
    # markers None: no cycle check (JSON read back from the database, or plain data).
    make = c_make_encoder(
        None, str, json.encoder.encode_basestring, None, ":", ",", True, False, True
    )
    return lambda value: "".join(make(value, 0))


hash_json = _hash_encoder()
# A JSON string literal as canonical_json writes it (the C function where there is one).
json_string = json.encoder.encode_basestring

# The columns of an audit event row, in the order bulk writers insert them (one list: the
# bulk writer inserts these, the verifier reads the hashed ones, EVENT_ROW_COLUMNS).
EVENT_COLUMNS = (
    "agency_id",
    "seq",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "data",
    "created_at",
    "prev_hash",
    "hash",
    "key_id",
)
# Everything but the actor's foreign key, which is not hashed (the label is).
EVENT_ROW_COLUMNS = tuple(column for column in EVENT_COLUMNS if column != "actor_id")


class EventRow(NamedTuple):
    """An event as the verifier reads it: the hashed fields (EVENT_ROW_COLUMNS), no model."""

    agency_id: int
    seq: int
    actor_label: str
    action: str
    object_type: str
    object_id: str
    data: Any
    created_at: datetime
    prev_hash: str
    hash: str
    key_id: str


assert EventRow._fields == EVENT_ROW_COLUMNS


def hashed_body(
    agency_id: int,
    seq: int,
    actor_label: str,
    action: str,
    object_type: str,
    object_id: str,
    data_json: str,
    created_at_iso: str,
    prev_hash: str,
    key_id: str | None,
) -> bytes:
    """prev_hash + the canonical JSON of the event, written out in sorted key order (what
    canonical_json makes of the dict, without building and sorting one: a test compares);
    data_json is hash_json(data), key_id None for a legacy event (no key_id member)."""
    keyed = "" if key_id is None else f',"key_id":{json_string(key_id)}'
    return (
        f'{prev_hash}{{"action":{json_string(action)},"actor":{json_string(actor_label)},'
        f'"agency":{agency_id},"created_at":{json_string(created_at_iso)},'
        f'"data":{data_json}{keyed},"object_id":{json_string(object_id)},'
        f'"object_type":{json_string(object_type)},"seq":{seq}}}'
    ).encode()


_BLOCK = 64  # SHA-256's block size
_SHA256 = hashlib.sha256()


@lru_cache(maxsize=32)
def hmac_sha256(key: bytes) -> Any:
    """hmac_sha256(key)(body) == hmac.digest(key, body, "sha256").hex() (RFC 2104, a test
    compares), from the inner and outer SHA-256 states keyed once and copied per message:
    with OpenSSL 3 the one-shot hmac.digest, and copying an hmac.new object, set up the
    digest again for every call and took four times as long."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def digest(body: bytes) -> str:
        mac = inner.copy()
        mac.update(body)
        out = outer.copy()
        out.update(mac.digest())
        return out.hexdigest()

    return digest


def sha256_hex(body: bytes) -> str:
    """hashlib.sha256(body).hexdigest(), from a copied empty state (cheaper than a new one)."""
    state = _SHA256.copy()
    state.update(body)
    return state.hexdigest()


def body_hash(body: bytes, key: bytes | None) -> str:
    """HMAC-SHA256 with key (hex), or plain SHA-256 for a legacy event (key None)."""
    if key is None:
        return sha256_hex(body)
    return str(hmac_sha256(key)(body))


def created_iso(created_at: datetime) -> str:
    """created_at as hashed: ISO 8601 in UTC."""
    return created_at.astimezone(UTC).isoformat()


def fields_hash(
    agency_id: int,
    seq: int,
    actor_label: str,
    action: str,
    object_type: str,
    object_id: str,
    data: Any,
    created_at: datetime,
    prev_hash: str,
    key_id: str,
    key: bytes | None,
) -> str:
    """The hash of one event from its fields (recording, and verifying a converted row)."""
    body = hashed_body(
        agency_id,
        seq,
        actor_label,
        action,
        object_type,
        object_id,
        hash_json(data),
        created_iso(created_at),
        prev_hash,
        key_id if key is not None else None,
    )
    return body_hash(body, key)


def event_hash(event: Any, key: bytes | None) -> str:
    """HMAC-SHA256 with `key` over the previous hash and the event (its key id included, so
    an event cannot be relabelled as unkeyed); plain SHA-256 for a legacy event (key None).
    `event`: an AuditEvent or an EventRow."""
    return fields_hash(
        event.agency_id,
        event.seq,
        event.actor_label,
        event.action,
        event.object_type,
        event.object_id,
        event.data,
        event.created_at,
        event.prev_hash,
        event.key_id,
        key,
    )
