"""Appending to the audit chain at database speed, for bulk writers (imports)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from cases.kernel.actor import Actor, actor_fields
from cases.kernel.audit.hashing import (
    EVENT_COLUMNS,
    body_hash,
    created_iso,
    hash_json,
    hashed_body,
)
from cases.kernel.audit.keys import audit_current_key
from cases.kernel.bulk import copy_text, insert_copy_text, insert_tuples
from cases.kernel.models import Agency, AuditChain, AuditEvent


def audit_append_rows(
    *,
    agency: Agency,
    actor: Actor,
    rows: Sequence[tuple[str, str, str, dict[str, Any]]],
) -> None:
    """audit_record_many at database speed, for bulk writers (imports): rows of (action,
    object_type, object_id, data) with JSON-plain data (str, int, bool, None, lists and
    dicts of them: stored exactly as hashed). The same chain, hashes and columns; no model
    instances, the hashes in one tight loop, the rows inserted as tuples."""
    audit_append_json(
        agency=agency,
        actor=actor,
        rows=[(action, kind, pk, hash_json(data)) for action, kind, pk, data in rows],
    )


def audit_copy_columns(rows: Sequence[tuple[str, str, str, str]]) -> list[str]:
    """The action, object_type, object_id and data columns of each row of audit_append_json
    as COPY text (PostgreSQL), for its `copy_columns`: written where the rows are prepared."""
    # Escaped text has no raw newline: one line per row.
    return copy_text(rows)[:-1].split("\n") if rows else []


def audit_append_json(
    *,
    agency: Agency,
    actor: Actor,
    rows: Sequence[tuple[str, str, str, str]],
    copy_columns: Sequence[str] | None = None,
) -> None:
    """audit_append_rows with each event's data already as hash_json writes it: a bulk
    writer serialises it off its critical path (the import, in its read-ahead thread), and
    only the chain's sequential part (seq, prev_hash, HMAC) runs under the chain's lock.
    `copy_columns` (PostgreSQL): audit_copy_columns(rows), prepared there too; each event's
    COPY line is then written in the loop that hashes it."""
    if not rows:
        return
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("audit_append_rows must run inside transaction.atomic()")
    # One statement per chunk once the chain exists (the import appends 20 times per
    # 100,000 rows): lock it, and create it only when there is none yet.
    chain = AuditChain.objects.select_for_update().filter(agency=agency).first()
    if chain is None:
        AuditChain.objects.get_or_create(agency=agency)
        chain = AuditChain.objects.select_for_update().get(agency=agency)
    key_id, key = audit_current_key()
    actor_obj, actor_label = actor_fields(actor)
    now = timezone.now()
    connection = transaction.get_connection()
    meta = AuditEvent._meta
    db_now = meta.get_field("created_at").get_db_prep_save(now, connection)
    agency_id, actor_id = agency.pk, actor_obj.pk if actor_obj is not None else None
    prev, seq = chain.last_hash, chain.last_seq
    values = []
    # fields_hash's steps, with what is the same for every row done once (a test compares).
    created = created_iso(now)
    hashed_key_id = key_id if key is not None else None
    lines: list[str] | None = None
    if copy_columns is not None:
        # The columns the same for every event, as COPY text once (EVENT_COLUMNS' order).
        columns, lines = copy_columns, []
        head, actor_text, label_text, now_text, key_text = (
            copy_text([(value,)])[:-1]
            for value in (agency_id, actor_id, actor_label, db_now, key_id)
        )
    for index, (action, object_type, object_id, data_json) in enumerate(rows):
        seq += 1
        # Hashed, and stored as it was hashed (CanonicalJSONField's stored form).
        body = hashed_body(
            agency_id,
            seq,
            actor_label,
            action,
            object_type,
            object_id,
            data_json,
            created,
            prev,
            hashed_key_id,
        )
        digest = body_hash(body, key)
        if lines is not None:
            lines.append(
                f"{head}\t{seq}\t{actor_text}\t{label_text}\t{columns[index]}\t{now_text}\t"
                f"{prev}\t{digest}\t{key_text}\n"
            )
            prev = digest
            continue
        # In the order of EVENT_COLUMNS.
        values.append(
            (
                agency_id,
                seq,
                actor_id,
                actor_label,
                action,
                object_type,
                object_id,
                data_json,
                db_now,
                prev,
                digest,
                key_id,
            )
        )
        prev = digest
    if lines is not None:
        insert_copy_text(AuditEvent, EVENT_COLUMNS, "".join(lines))
    else:
        insert_tuples(AuditEvent, EVENT_COLUMNS, values)
    chain.last_seq, chain.last_hash = seq, prev
    chain.save(update_fields=["last_seq", "last_hash"])
