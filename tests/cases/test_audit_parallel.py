"""The verifier's converter-free reads and its parallel ranges: the same verdicts as one
sequential walk."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime

import pytest
from django.db import transaction

from cases.kernel.audit import fastwalk, hashing
from cases.kernel.audit.bulk import audit_append_rows
from cases.kernel.audit.services import audit_chain_verify
from cases.kernel.models import AuditEvent
from tests.audit_helpers import EVENTS, as_db_owner, sql, walk_checks

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "stored, when",
    [
        ("2026-12-02 11:35:44", datetime(2026, 12, 2, 11, 35, 44, tzinfo=UTC)),
        ("2026-12-02 11:35:44.123456", datetime(2026, 12, 2, 11, 35, 44, 123456, tzinfo=UTC)),
        ("2026-12-02 11:35:44.000001", datetime(2026, 12, 2, 11, 35, 44, 1, tzinfo=UTC)),
        ("2026-12-02 11:35:44.1+00", datetime(2026, 12, 2, 11, 35, 44, 100000, tzinfo=UTC)),
        ("2026-12-02 11:35:44+00", datetime(2026, 12, 2, 11, 35, 44, tzinfo=UTC)),
        ("2026-12-02 11:35:44.5+00:00", datetime(2026, 12, 2, 11, 35, 44, 500000, tzinfo=UTC)),
        ("2026-12-02 11:35:44.000000", datetime(2026, 12, 2, 11, 35, 44, tzinfo=UTC)),
    ],
)
def test_stored_times_become_the_hashed_iso_form(stored, when) -> None:  # type: ignore[no-untyped-def]
    assert fastwalk.stored_iso(stored) == hashing.created_iso(when)


@pytest.mark.parametrize(
    "stored", ["2026-12-02T11:35:44", "2026-12-02 11:35:44+09", "2026-12-02 11:35", None, 5]
)
def test_other_stored_times_are_left_to_the_orm(stored) -> None:  # type: ignore[no-untyped-def]
    assert fastwalk.stored_iso(stored) is None


@pytest.mark.parametrize("microsecond", [0, 1, 120000, 999999])
def test_the_database_time_is_hashed_without_converters(
    agency, bob, monkeypatch, microsecond
) -> None:  # type: ignore[no-untyped-def]
    when = datetime(2026, 12, 2, 11, 35, 44, microsecond, tzinfo=UTC)
    monkeypatch.setattr("cases.kernel.audit.bulk.timezone.now", lambda: when)
    with transaction.atomic():
        audit_append_rows(agency=agency, actor=bob, rows=[("a", "x", "1", {"n": 1})])
    event = AuditEvent.objects.get(agency=agency, action="a")
    (raw,) = [
        row for batch in fastwalk.raw_batches(agency.pk, event.seq, None, 10) for row in batch
    ]
    assert fastwalk.stored_iso(raw[fastwalk.RAW_COLUMNS.index("created_text")]) == (
        hashing.created_iso(event.created_at)
    )
    seen = walk_checks(monkeypatch)
    assert audit_chain_verify(agency=agency).ok
    assert seen == []  # every event accepted from the raw row


# ------------------------------------------------------------------ parallel ranges


@pytest.fixture
def chain(agency, bob):  # type: ignore[no-untyped-def]
    """The agency's own #1 and 12 keyed events: #1-#13. Two workers: ranges #1-#7 and
    #8-#13; three: #1-#5, #6-#10, #11-#13."""
    with transaction.atomic():
        audit_append_rows(
            agency=agency, actor=bob, rows=[("a", "finding", str(n), {"n": n}) for n in range(12)]
        )
    events = {e.seq: e for e in AuditEvent.objects.filter(agency=agency)}
    assert sorted(events) == list(range(1, 14))
    return events


@pytest.fixture
def in_process_pool(monkeypatch) -> list[int]:  # type: ignore[no-untyped-def]
    """The ranges checked in this process (the test database is one connection's): the
    number of ranges each parallel walk used."""
    used: list[int] = []

    def pool_map(tasks, workers):  # type: ignore[no-untyped-def]
        used.append(len(tasks))
        return [fastwalk.segment_check(task) for task in tasks]

    monkeypatch.setattr(fastwalk, "pool_map", pool_map)
    return used


def _report(agency, settings, workers):  # type: ignore[no-untyped-def]
    settings.AUDIT_VERIFY_WORKERS = workers
    settings.AUDIT_VERIFY_PARALLEL_MIN = 2
    return audit_chain_verify(agency=agency, batch_size=4)


def test_an_intact_chain_verifies_in_ranges(agency, chain, settings, in_process_pool) -> None:  # type: ignore[no-untyped-def]
    sequential = _report(agency, settings, 1)
    assert in_process_pool == []
    for workers in (2, 3, 13):
        assert _report(agency, settings, workers) == sequential
    assert sequential.ok and sequential.checked == 13
    assert in_process_pool == [2, 3, 13]


def _tamper(kind: str, events: dict, seq: int) -> None:  # type: ignore[type-arg]
    event = events[seq]
    with transaction.atomic(), as_db_owner():
        if kind == "edited":
            sql(f"UPDATE {EVENTS} SET data = %s WHERE id = %s", ['{"n": -1}', event.pk])
        elif kind == "forged":
            sql(f"UPDATE {EVENTS} SET hash = %s WHERE id = %s", ["f" * 64, event.pk])
        elif kind == "deleted":
            sql(f"DELETE FROM {EVENTS} WHERE id = %s", [event.pk])
        elif kind == "reordered":  # #seq and #seq+1 swap places
            after = events[seq + 1]
            sql(f"UPDATE {EVENTS} SET seq = 10000 WHERE id = %s", [event.pk])
            sql(f"UPDATE {EVENTS} SET seq = %s WHERE id = %s", [seq, after.pk])
            sql(f"UPDATE {EVENTS} SET seq = %s WHERE id = %s", [seq + 1, event.pk])
        else:  # inserted: a copy of #seq-1 (link and hash) takes #seq, the rest move up
            sql(f"UPDATE {EVENTS} SET seq = seq + 1000 WHERE agency_id = %s AND seq >= %s",
                [event.agency_id, seq])  # fmt: skip
            sql(f"UPDATE {EVENTS} SET seq = seq - 999 WHERE agency_id = %s AND seq > 1000",
                [event.agency_id])  # fmt: skip
            before = events[seq - 1]
            sql(
                f"INSERT INTO {EVENTS} (agency_id, seq, actor_id, actor_label, action, "
                "object_type, object_id, data, created_at, prev_hash, hash, key_id) "
                f"SELECT agency_id, %s, actor_id, actor_label, action, object_type, object_id, "
                f"data, created_at, prev_hash, hash, key_id FROM {EVENTS} WHERE id = %s",
                [seq, before.pk],
            )


@pytest.mark.parametrize("workers", [2, 3])
@pytest.mark.parametrize("seq", [3, 6, 7, 8, 11])
@pytest.mark.parametrize("kind", ["edited", "forged", "deleted", "reordered", "inserted"])
def test_a_tampered_chain_gives_the_sequential_report(  # type: ignore[no-untyped-def]
    agency, chain, settings, in_process_pool, kind, seq, workers
) -> None:
    _tamper(kind, chain, seq)
    sequential = _report(agency, settings, 1)
    assert not sequential.ok and sequential.broken_seq == seq, sequential
    assert _report(agency, settings, workers) == sequential
    assert in_process_pool == [workers]


def test_an_anchor_in_a_range_is_matched_there(agency, chain, settings, in_process_pool) -> None:  # type: ignore[no-untyped-def]
    from cases.kernel.audit.services import audit_anchor

    assert audit_anchor(agency=agency, reason="test").record is not None
    sequential = _report(agency, settings, 1)
    assert sequential.ok and sequential.anchors_matched == 1
    assert _report(agency, settings, 2) == sequential


# ------------------------------------------------------------------ the process pool


def test_a_daemonic_process_verifies_sequentially(agency, chain, settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # A Celery prefork child, or a multiprocessing daemon: no pool, one sequential walk.
    monkeypatch.setitem(multiprocessing.current_process()._config, "daemon", True)  # type: ignore[attr-defined]
    assert not fastwalk.can_fork()
    assert fastwalk.pool_map([], 2) is None
    report = _report(agency, settings, 2)
    assert report.ok and report.checked == 13


def test_a_refused_pool_falls_back_to_the_sequential_walk(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(fastwalk, "can_fork", lambda: True)
    monkeypatch.setattr(fastwalk.connections, "close_all", lambda: None)  # the test's transaction

    class Refusing:
        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            # What multiprocessing says when a daemonic process starts a child.
            raise AssertionError("daemonic processes are not allowed to have children")

    monkeypatch.setattr(fastwalk, "ProcessPoolExecutor", Refusing)
    assert fastwalk.pool_map([], 2) is None


@pytest.mark.django_db(transaction=True)
def test_forked_workers_verify_committed_rows(agency, chain, settings, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    if not fastwalk.can_fork():
        pytest.skip("an in-memory SQLite test database is not shared with forked workers")
    results: list[object] = []
    pool_map = fastwalk.pool_map

    def spy(tasks, workers):  # type: ignore[no-untyped-def]
        results.append(pool_map(tasks, workers))
        return results[-1]

    monkeypatch.setattr(fastwalk, "pool_map", spy)
    report = _report(agency, settings, 2)
    assert report.ok and report.checked == 13
    assert results and results[0] is not None and all(s.clean for s in results[0])  # type: ignore[attr-defined]
    _tamper("edited", chain, 9)
    parallel = _report(agency, settings, 2)
    assert parallel == _report(agency, settings, 1)
    assert parallel.broken_seq == 9 and "edited" in parallel.reason
    # A threaded process (a gthread web worker) does not fork.
    monkeypatch.setattr(fastwalk.threading, "active_count", lambda: 4)
    assert not fastwalk.can_fork()
    results.clear()
    assert _report(agency, settings, 2) == parallel and results == [None]


def _daemonic_here(_: int) -> bool:
    return fastwalk.in_daemon()


def test_a_celery_prefork_child_may_not_fork() -> None:
    billiard = pytest.importorskip("billiard")
    # Celery's prefork pool runs tasks in billiard's daemonic children.
    with billiard.get_context("fork").Pool(1) as pool:
        assert pool.map(_daemonic_here, [0]) == [True]
    assert not fastwalk.in_daemon()
