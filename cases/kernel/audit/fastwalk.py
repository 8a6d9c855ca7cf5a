"""The verifier's fast loop over raw rows, and its parallel segments (cases.kernel.audit.verify).

The rows are read without Django's converters: `created_at` and `data` are selected cast to
text, so the driver parses nothing (SQLite's declared-type timestamp converter, the JSON
decoding of the ORM), and the stored time is turned into the hashed ISO form by string
operations. The loop accepts only an event whose stored hash it has recomputed; every other
row is handed to a caller's `slow` function (the walk re-reads it through the ORM and judges
it), so a wrong guess here only costs time, never a verdict. Per event the loop escapes only
the object id: the rest of the body's text is shared by the events of a bulk chunk and made
once for them (the key of that cache is the stored values, so an edited one misses it).

Parallel: each stored row carries the hash before it, so ranges of seq can be hashed
independently in a process pool; the walk then checks the links between the ranges and
walks sequentially from the first range that is not clean (identical report)."""

from __future__ import annotations

import json
import logging
import multiprocessing
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import AbstractContextManager, nullcontext
from typing import Any, NamedTuple

from django.db import connections, transaction
from django.db.models import TextField
from django.db.models.functions import Cast
from django.db.models.sql.constants import MULTI

from cases.kernel.audit.hashing import hash_json, hmac_sha256, json_string, sha256_hex
from cases.kernel.audit.keys import LEGACY_KEY_ID
from cases.kernel.gcpause import collections_paused
from cases.kernel.models import AuditEvent

log = logging.getLogger(__name__)

# Only what the loop needs, each a column the driver turns into a Python object per row (a
# fifth of the read): not the id (a row the loop does not accept is re-read by its seq,
# unique in the agency) nor agency_id (the query's own filter, so the hashed value).
RAW_COLUMNS = (
    "seq",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "data_text",
    "created_text",
    "prev_hash",
    "hash",
    "key_id",
)


# Rows per fetch: a thousand rows' tuples stay in the CPU cache between the driver building
# them and the loop hashing them (SQLite, 100,000 events: 2.7 µs a row read in batches of
# 10,000, 2.1 µs in batches of 1,000).
BATCH = 1000


def raw_batches(
    agency_id: int, lo: int | None, hi: int | None, batch_size: int
) -> Iterable[list[tuple[Any, ...]]]:
    """The events lo <= seq <= hi (None: no bound) in seq order as driver tuples of
    RAW_COLUMNS, batch_size at a time (a server-side cursor on PostgreSQL)."""
    events = AuditEvent.objects.filter(agency_id=agency_id)
    if lo is not None:
        events = events.filter(seq__gte=lo)
    if hi is not None:
        events = events.filter(seq__lte=hi)
    rows = (
        events.annotate(
            data_text=Cast("data", TextField()), created_text=Cast("created_at", TextField())
        )
        .order_by("seq")
        .values_list(*RAW_COLUMNS)
    )
    compiler = rows.query.get_compiler(using=rows.db)
    batches: Iterable[list[tuple[Any, ...]]] = compiler.execute_sql(
        MULTI, chunked_fetch=True, chunk_size=batch_size
    )
    return batches


def stored_iso(text: Any) -> str | None:
    """created_at as stored (SQLite: 'YYYY-MM-DD HH:MM:SS[.ffffff]' in UTC; PostgreSQL's
    timestamptz as text in the UTC session: '... HH:MM:SS[.f...]+00') in the hashed form of
    hashing.created_iso ('YYYY-MM-DDTHH:MM:SS[.ffffff]+00:00', no fraction when zero); None
    for anything else (the row is then judged through the ORM)."""
    if not isinstance(text, str) or len(text) < 19 or text[10] != " ":
        return None
    time = text[11:]
    if time.endswith("+00:00"):
        time = time[:-6]
    elif time.endswith("+00"):
        time = time[:-3]
    hms, dot, fraction = time.partition(".")
    if len(hms) != 8 or hms[2] != ":" or hms[5] != ":":
        return None
    if dot:
        if not fraction.isdigit() or len(fraction) > 6:
            return None
        fraction = fraction.ljust(6, "0")
        if fraction != "000000":
            return f"{text[:10]}T{hms}.{fraction}+00:00"
    return f"{text[:10]}T{hms}+00:00"


def read_scope() -> AbstractContextManager[Any]:
    """Where a walk reads its rows: a transaction on PostgreSQL, so that the server-side
    cursor streams them (in autocommit Django declares it WITH HOLD, and the server then
    materialises the whole result before the first row: 100,000 events, about 400 against
    300 ms to read); nothing on SQLite (a transaction there is IMMEDIATE: the write lock)."""
    if connections["default"].vendor == "postgresql":
        return transaction.atomic()
    return nullcontext()


class Progress:
    """Where a loop stands: the next expected seq and the hash it must link to (None: take
    the first row's, for a segment whose link the caller checks), and what it accepted."""

    __slots__ = (
        "checked",
        "first_prev",
        "key_id",
        "legacy",
        "matched",
        "prev",
        "seen_keyed",
        "seq",
    )

    def __init__(self, prev: str | None, seq: int, seen_keyed: bool, key_id: str) -> None:
        self.prev, self.seq, self.seen_keyed, self.key_id = prev, seq, seen_keyed, key_id
        self.checked = self.matched = self.legacy = 0
        self.first_prev: str | None = None


_MISSING = object()
_scan_json = json.decoder.JSONDecoder().scan_once  # type: ignore[attr-defined]


def fast_loop(
    batches: Iterable[list[tuple[Any, ...]]],
    p: Progress,
    *,
    agency_id: int,
    keys: dict[str, bytes],
    anchored: dict[int, set[str]],
    first_anchor: int | None,
    legacy_ok: bool,
    slow: Callable[[tuple[Any, ...], Progress], bool],
) -> bool:
    """Check the raw rows (of agency_id: the query's filter) in seq order, updating p; a row
    the loop cannot accept goes to slow(row, p) with p up to date, which judges it and
    updates p (True: go on). True when every row was accepted. What is accepted here is what
    _Walk.check accepts: the next seq, linked, hashed with a configured key (or unkeyed where
    legacy_ok and still allowed), matching its anchors."""
    # No cycle collection during the loop: it makes no cycles, but the row tuples it reads
    # by the thousand trigger collections that walk the whole heap (in a forked worker,
    # copying the parent's pages as they go).
    with collections_paused():
        return _loop(batches, p, agency_id, keys, anchored, first_anchor, legacy_ok, slow)


def _loop(
    batches: Iterable[list[tuple[Any, ...]]],
    p: Progress,
    agency_id: int,
    keys: dict[str, bytes],
    anchored: dict[int, set[str]],
    first_anchor: int | None,
    legacy_ok: bool,
    slow: Callable[[tuple[Any, ...], Progress], bool],
) -> bool:
    """fast_loop's body (the names it binds are locals: the loop runs per event)."""
    hashers = {kid: hmac_sha256(key) for kid, key in keys.items() if kid != LEGACY_KEY_ID}
    key_members = {kid: f',"key_id":{json_string(kid)}' for kid in hashers}
    scan, encode, string = _scan_json, hash_json, json_string
    # The body's text before the data and between the object id and the seq, for each
    # (created_at, action, actor, object type): a bulk chunk shares them all, so most events
    # escape only their object id. None: a stored time the loop does not read.
    parts: dict[tuple[Any, ...], Any] = {}
    prev, seq, seen_keyed, key_now = p.prev, p.seq, p.seen_keyed, p.key_id
    checked = matched = legacy = 0
    # The hasher and key member of the key id seen last (events come in runs of one key).
    last_kid: Any = None
    hasher: Any = None
    keyed = ""
    for batch in batches:
        for row in batch:
            n, actor, action, otype, oid, data, created, prev_hash, digest, kid = row
            if n == seq and (prev_hash == prev or prev is None) and type(data) is str:
                shared = (created, action, actor, otype)
                part = parts.get(shared, _MISSING)
                if part is _MISSING:
                    if len(parts) > 4096:
                        parts.clear()
                    iso = stored_iso(created)
                    # Text only (json_string refuses anything else; the ORM judges it).
                    text = type(action) is str and type(actor) is str and type(otype) is str
                    part = parts[shared] = (
                        None
                        if iso is None or not text
                        else (
                            f'{{"action":{string(action)},"actor":{string(actor)},'
                            f'"agency":{agency_id},"created_at":{string(iso)},"data":',
                            f',"object_type":{string(otype)},"seq":',
                        )
                    )
                if kid != last_kid or hasher is sha256_hex:
                    # A legacy event's hasher depends on the walk so far: looked up each time.
                    last_kid, hasher = kid, hashers.get(kid)
                    keyed = key_members.get(kid, "")
                    if hasher is None and (
                        kid == LEGACY_KEY_ID
                        and legacy_ok
                        and not seen_keyed
                        and (first_anchor is None or n <= first_anchor)
                    ):
                        hasher, keyed = sha256_hex, ""
                ok = False
                if part is not None and hasher is not None:
                    head, tail = part
                    # hashing.hashed_body written out (a test compares); the key id is
                    # hashed for a keyed event only.
                    # The stored text first: data is stored as the canonical JSON it was
                    # hashed with (audit.fields), so for every event written since, this
                    # one hash decides. Anything else (older rows, jsonb's form, an edit)
                    # is decoded with the C scanner and encoded canonically, as hashed.
                    ok = (
                        hasher(
                            f'{prev_hash}{head}{data}{keyed},"object_id":{string(oid)}{tail}{n}}}'.encode()
                        )
                        == digest
                    )
                    if not ok:
                        try:
                            value, end = scan(data, 0)
                            data_json = encode(value) if end == len(data) else None
                        except (StopIteration, TypeError, ValueError):
                            data_json = None
                        if data_json is not None and data_json != data:
                            ok = (
                                hasher(
                                    f"{prev_hash}{head}{data_json}{keyed},"
                                    f'"object_id":{string(oid)}{tail}{n}}}'.encode()
                                )
                                == digest
                            )
                if ok and n in anchored:
                    hashes = anchored[n]
                    ok = len(hashes) == 1 and digest in hashes
                    matched += ok
                if ok:
                    if prev is None:
                        p.first_prev = prev_hash
                    if kid == LEGACY_KEY_ID:
                        legacy += 1
                    else:
                        seen_keyed = True
                    prev, seq, key_now, checked = digest, n + 1, kid, checked + 1
                    continue
            p.prev, p.seq, p.seen_keyed, p.key_id = prev, seq, seen_keyed, key_now
            p.checked += checked
            p.matched += matched
            p.legacy += legacy
            checked = matched = legacy = 0
            last_kid = None  # slow() may change what a key id allows (seen_keyed)
            if not slow(row, p):
                return False
            prev, seq, seen_keyed, key_now = p.prev, p.seq, p.seen_keyed, p.key_id
    p.prev, p.seq, p.seen_keyed, p.key_id = prev, seq, seen_keyed, key_now
    p.checked += checked
    p.matched += matched
    p.legacy += legacy
    return True


_in_worker = False


def _worker_start() -> None:
    global _in_worker
    _in_worker = True


class SegmentTask(NamedTuple):
    """A range for a worker: seq lo..hi, read from query_lo (None: no lower bound)."""

    agency_id: int
    lo: int
    query_lo: int | None
    hi: int
    batch_size: int
    keys: dict[str, bytes]
    anchored: dict[int, set[str]]


class Segment(NamedTuple):
    """What a worker found in lo..hi: clean (every row there accepted, seq lo to hi without a
    gap) and, when clean, the link into it, the last hash and key id, and the counts."""

    lo: int
    query_lo: int | None
    hi: int
    clean: bool
    first_prev: str | None = None
    last_hash: str | None = None
    key_id: str = ""
    checked: int = 0
    matched: int = 0


def segment_check(task: SegmentTask) -> Segment:
    """One range, in a pool worker (its own database connection) or in process."""
    lo, hi = task.lo, task.hi
    p = Progress(None, lo, True, "")
    try:
        with read_scope():
            clean = fast_loop(
                raw_batches(task.agency_id, task.query_lo, hi, task.batch_size),
                p,
                agency_id=task.agency_id,
                keys=task.keys,
                anchored=task.anchored,
                first_anchor=None,
                legacy_ok=False,  # an unkeyed event depends on the walk before it: sequential
                slow=lambda row, p: False,
            )
    finally:
        if _in_worker:
            connections.close_all()
    if not clean or p.seq != hi + 1:
        return Segment(lo, task.query_lo, hi, False)
    return Segment(
        lo, task.query_lo, hi, True, p.first_prev, p.prev, p.key_id, p.checked, p.matched
    )


def in_daemon() -> bool:
    """Whether this is a daemonic process (multiprocessing's, or billiard's: a Celery
    prefork child), which may not start children."""
    if multiprocessing.current_process().daemon:
        return True
    try:
        from billiard.process import current_process as billiard_process
    except ImportError:  # pragma: no cover - Celery brings billiard
        return False
    return bool(billiard_process().daemon)


def can_fork() -> bool:
    """Whether this process may start a pool: not a daemonic pool process (Celery's prefork
    children, multiprocessing's daemons cannot have children), not inside a transaction (the
    workers would not see its rows), not an in-memory SQLite database (not shared), and only
    from a single-threaded process (a fork copies locks other threads may hold: a threaded
    web worker verifies sequentially)."""
    if "fork" not in multiprocessing.get_all_start_methods() or threading.active_count() > 1:
        return False
    if in_daemon():
        return False
    connection = connections["default"]
    if connection.in_atomic_block:
        return False
    return not (connection.vendor == "sqlite" and connection.is_in_memory_db())  # type: ignore[attr-defined]


def pool_map(tasks: list[SegmentTask], workers: int) -> list[Segment] | None:
    """segment_check over tasks: the first here, the others in a 'fork' pool of up to
    `workers` - 1 processes meanwhile (this process would otherwise only wait: one fork less,
    and a core's share of the verify without one); None when no pool can be started here
    (the caller walks sequentially)."""
    if not can_fork():
        return None
    connections.close_all()  # each worker opens its own; no socket shared across the fork
    try:
        with ProcessPoolExecutor(
            max_workers=max(1, min(workers, len(tasks)) - 1),
            mp_context=multiprocessing.get_context("fork"),
            initializer=_worker_start,
        ) as pool:
            # map submits every task now: the workers are forked before this process
            # opens its connection again for the first range.
            rest = pool.map(segment_check, tasks[1:])
            first = [segment_check(tasks[0])] if tasks else []
            return first + list(rest)
    except (AssertionError, OSError, BrokenProcessPool) as exc:
        # "daemonic processes are not allowed to have children", no fork, a worker killed
        log.warning("audit verify: no process pool (%s); verifying sequentially", exc)
        return None
