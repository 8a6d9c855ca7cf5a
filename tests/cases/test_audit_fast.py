"""The fast paths of the audit chain write and read the same bytes as the plain ones."""

from __future__ import annotations

import hmac
import json
from datetime import UTC, date, datetime

import pytest
from django.db import connection, transaction

from cases.kernel.audit import fastwalk, hashing, services
from cases.kernel.audit.bulk import audit_append_json, audit_append_rows, audit_copy_columns
from cases.kernel.audit.keys import audit_keys
from cases.kernel.audit.services import audit_chain_verify, audit_record, event_hash
from cases.kernel.models import AuditEvent
from tests.audit_helpers import EVENTS, as_db_owner, sql, walk_checks

pytestmark = pytest.mark.django_db
CANONICAL = {"sort_keys": True, "separators": (",", ":"), "ensure_ascii": False, "default": str}

PAYLOADS = [
    {"b": 1, "a": '유나 "x"\n\t', "c": [1.5, float("nan"), None, True, -0.0, 10**30]},
    {"z": {"y": 1e100, "x": date(2026, 1, 2)}, "": "", "é": ["\u2028", "\x00"]},
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_the_hash_encoder_writes_the_canonical_bytes(payload) -> None:  # type: ignore[no-untyped-def]
    expected = json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    assert services.hash_json(payload) == expected == services.canonical_json(payload)


def test_bulk_appended_events_chain_after_recorded_ones_and_verify(agency, bob) -> None:  # type: ignore[no-untyped-def]
    with transaction.atomic():
        audit_record(agency=agency, actor=bob, action="x.before", data={"n": 1})
        audit_append_rows(
            agency=agency,
            actor=bob,
            rows=[
                ("finding.recorded", "finding", str(n), {"url": f"u{n}", "n": n}) for n in range(3)
            ],
        )
        audit_record(agency=agency, actor=bob, action="x.after")
    events = list(AuditEvent.objects.filter(agency=agency).order_by("seq"))
    assert [e.action for e in events][-5:] == ["x.before"] + ["finding.recorded"] * 3 + ["x.after"]
    keys = audit_keys()
    for event in events:
        assert event_hash(event, keys.get(event.key_id)) == event.hash
    bulk = events[-2]
    assert (bulk.actor_id, bulk.actor_label, bulk.data) == (
        bob.pk,
        bob.username,
        {"url": "u2", "n": 2},
    )
    assert audit_chain_verify(agency=agency).ok


def test_a_bulk_event_edited_afterwards_breaks_the_chain(agency, bob) -> None:  # type: ignore[no-untyped-def]
    with transaction.atomic():
        audit_append_rows(
            agency=agency, actor=bob, rows=[("a", "finding", str(n), {"n": n}) for n in range(5)]
        )
    event = AuditEvent.objects.get(agency=agency, action="a", object_id="2")
    with as_db_owner():  # behind the app, as a forger with database rights
        sql(f"UPDATE {EVENTS} SET data = %s WHERE id = %s", ['{"n": 3}', event.pk])
    report = audit_chain_verify(agency=agency, batch_size=2)
    assert not report.ok and report.broken_seq == event.seq


# ------------------------------------------------------------- the verifier's fast loop

HOSTILE = [
    '유나 "따옴표" \\ 역슬래시',
    "emoji 🎤🔥 and \u2028\u2029 separators",
    "control \x00\x01\x1f\t\n\r end",
    "",
]


@pytest.mark.parametrize("key_id", ["k1", None])
@pytest.mark.parametrize("text", HOSTILE)
def test_the_written_out_body_is_the_canonical_json_of_the_event(key_id, text) -> None:  # type: ignore[no-untyped-def]
    created = datetime(2026, 12, 2, 11, 35, 44, 123456, tzinfo=UTC)
    data = {"z": [1.5, -0.0, 10**30, None, True], "é": {"b": text, "a": 1e-07}}
    payload = {
        "agency": 7,
        "seq": 12,
        "actor": text,
        "action": text + "x",
        "object_type": text[:3],
        "object_id": text[::-1],
        "data": data,
        "created_at": created.isoformat(),
    }
    if key_id is not None:
        payload["key_id"] = key_id
    body = hashing.hashed_body(
        7, 12, text, text + "x", text[:3], text[::-1], hashing.hash_json(data),
        created.isoformat(), "p" * 64, key_id,
    )  # fmt: skip
    assert body == ("p" * 64 + json.dumps(payload, **CANONICAL)).encode("utf-8")  # type: ignore[arg-type]


@pytest.mark.parametrize("length", [0, 16, 32, 64, 65, 200])
def test_the_copied_hmac_states_give_hmac_sha256(length) -> None:  # type: ignore[no-untyped-def]
    key = bytes(range(256))[:length]
    for body in (b"", b"x", "유나 🎤".encode() * 100):
        assert hashing.hmac_sha256(key)(body) == hmac.digest(key, body, "sha256").hex()
    assert hashing.hmac_sha256(key)(b"x") != hashing.hmac_sha256(key + b"!")(b"x")


@pytest.fixture
def hostile_chain(agency, bob) -> None:  # type: ignore[no-untyped-def]
    """HOSTILE text in every hashed field, recorded one by one and appended in bulk."""
    # PostgreSQL stores no NUL character in text or json (refused before any hashing).
    hostile = (
        [t.replace("\x00", "") for t in HOSTILE] if connection.vendor == "postgresql" else HOSTILE
    )
    with transaction.atomic():
        for n, text in enumerate(hostile):
            audit_record(agency=agency, actor=bob, action=text[:60], data={"t": text, "n": n})
        audit_append_rows(
            agency=agency, actor=bob,
            rows=[(text[:60], text[:40], text[:40], {text: [n, 0.1]}) for n, text in enumerate(hostile)],
        )  # fmt: skip


def test_hostile_events_verify_in_the_fast_loop(agency, hostile_chain, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    seen = walk_checks(monkeypatch)
    report = audit_chain_verify(agency=agency, batch_size=3)
    assert report.ok and report.checked == AuditEvent.objects.filter(agency=agency).count()
    assert seen == []  # every event hashed from the raw row, none left to the ORM walk


@pytest.fixture
def long_chain(agency, bob):  # type: ignore[no-untyped-def]
    """12 keyed events after the agency's own #1, verified in batches of 5: #6 opens the
    second batch, #11 the third."""
    assert AuditEvent.objects.filter(agency=agency).count() == 1
    with transaction.atomic():
        audit_append_rows(
            agency=agency, actor=bob, rows=[("a", "finding", str(n), {"n": n}) for n in range(12)]
        )
    return {e.seq: e for e in AuditEvent.objects.filter(agency=agency)}


@pytest.mark.parametrize("seq", [6, 8, 11])
def test_an_edit_in_a_later_batch_is_caught_there(agency, long_chain, seq) -> None:  # type: ignore[no-untyped-def]
    with as_db_owner():
        sql(f"UPDATE {EVENTS} SET data = %s WHERE id = %s", ['{"n": -1}', long_chain[seq].pk])
    report = audit_chain_verify(agency=agency, batch_size=5)
    assert (report.ok, report.broken_seq, report.checked) == (False, seq, seq - 1)
    assert "edited" in report.reason


@pytest.mark.parametrize("seq", [6, 9])
def test_a_forged_hash_in_a_later_batch_is_caught(agency, long_chain, seq) -> None:  # type: ignore[no-untyped-def]
    with as_db_owner():
        sql(f"UPDATE {EVENTS} SET hash = %s WHERE id = %s", ["f" * 64, long_chain[seq].pk])
    report = audit_chain_verify(agency=agency, batch_size=5)
    assert (report.ok, report.broken_seq) == (False, seq)


@pytest.mark.parametrize("seq", [5, 6, 10])
def test_a_row_deleted_at_a_batch_boundary_is_caught(agency, long_chain, seq) -> None:  # type: ignore[no-untyped-def]
    with as_db_owner():
        sql(f"DELETE FROM {EVENTS} WHERE id = %s", [long_chain[seq].pk])
    report = audit_chain_verify(agency=agency, batch_size=5)
    assert (report.ok, report.broken_seq) == (False, seq)
    assert f"#{seq} is missing" in report.reason


def test_rows_reordered_across_a_batch_boundary_are_caught(agency, long_chain) -> None:  # type: ignore[no-untyped-def]
    a, b = long_chain[5], long_chain[6]
    with transaction.atomic(), as_db_owner():
        sql(f"UPDATE {EVENTS} SET seq = 10000 WHERE id = %s", [a.pk])
        sql(f"UPDATE {EVENTS} SET seq = %s WHERE id = %s", [a.seq, b.pk])
        sql(f"UPDATE {EVENTS} SET seq = %s WHERE id = %s", [b.seq, a.pk])
    report = audit_chain_verify(agency=agency, batch_size=5)
    assert (report.ok, report.broken_seq) == (False, 5)


def test_stored_json_text_with_spaces_is_judged_as_the_orm_reads_it(  # type: ignore[no-untyped-def]
    agency, long_chain, monkeypatch
) -> None:
    # The same value written with whitespace around it: not the fast loop's case (json.loads
    # accepts it, so the ORM walk does and the chain verifies).
    spaced = f' {{"n" : {long_chain[8].data["n"]}}}\n'
    with as_db_owner():
        sql(f"UPDATE {EVENTS} SET data = %s WHERE id = %s", [spaced, long_chain[8].pk])
    seen = walk_checks(monkeypatch)
    assert audit_chain_verify(agency=agency, batch_size=5).ok
    assert seen == [8]  # the column keeps the text as written (json, not jsonb)


# ------------------------------------------------ data stored as the canonical JSON hashed


def _stored_text(event_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT CAST(data AS TEXT) FROM {EVENTS} WHERE id = %s", [event_id])
        return str(cursor.fetchone()[0])


def test_data_is_stored_as_the_canonical_json_it_was_hashed_with(agency, bob) -> None:  # type: ignore[no-untyped-def]
    data = {"b": [1, 0.5, None], "a": '유나 "x"', "é": {"z": 1, "y": True}}
    with transaction.atomic():
        recorded = audit_record(agency=agency, actor=bob, action="x.one", data=data)
        audit_append_rows(agency=agency, actor=bob, rows=[("x.bulk", "finding", "1", data)])
    bulk = AuditEvent.objects.get(agency=agency, action="x.bulk")
    canonical = hashing.canonical_json(data)
    assert canonical == '{"a":"유나 \\"x\\"","b":[1,0.5,null],"é":{"y":true,"z":1}}'
    assert _stored_text(recorded.pk) == _stored_text(bulk.pk) == canonical
    assert AuditEvent.objects.get(pk=recorded.pk).data == data == bulk.data


def _hash_calls(monkeypatch) -> list[bytes]:  # type: ignore[no-untyped-def]
    """The bodies the verifier's fast loop hashes with the configured keys."""
    bodies: list[bytes] = []
    keyed = fastwalk.hmac_sha256

    def counting(key: bytes):  # type: ignore[no-untyped-def]
        digest = keyed(key)

        def spy(body: bytes) -> str:
            bodies.append(body)
            return str(digest(body))

        return spy

    monkeypatch.setattr(fastwalk, "hmac_sha256", counting)
    return bodies


def test_each_event_is_hashed_once_from_its_stored_text(agency, long_chain, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    bodies = _hash_calls(monkeypatch)
    seen = walk_checks(monkeypatch)
    report = audit_chain_verify(agency=agency, batch_size=5)
    assert report.ok and seen == []
    assert len(bodies) == report.checked == 13


def test_the_same_value_stored_in_another_form_is_hashed_again_canonically(  # type: ignore[no-untyped-def]
    agency, long_chain, monkeypatch
) -> None:
    # The same value, spaced (as jsonb writes it): the stored text does not give the hash,
    # the decoded value encoded canonically does, and the chain verifies.
    n = long_chain[8].data["n"]
    with as_db_owner():
        sql(f"UPDATE {EVENTS} SET data = %s WHERE id = %s", [f'{{"n": {n}}}', long_chain[8].pk])
    bodies = _hash_calls(monkeypatch)
    seen = walk_checks(monkeypatch)
    report = audit_chain_verify(agency=agency, batch_size=5)
    assert report.ok and seen == []
    # That event twice: from the stored text, then from its canonical form.
    assert len(bodies) == report.checked + 1


def test_a_changed_value_is_caught_although_its_text_is_canonical(agency, long_chain) -> None:  # type: ignore[no-untyped-def]
    with as_db_owner():
        sql(f"UPDATE {EVENTS} SET data = %s WHERE id = %s", ['{"n":99}', long_chain[8].pk])
    report = audit_chain_verify(agency=agency, batch_size=5)
    assert (report.ok, report.broken_seq) == (False, 8)


def test_hostile_events_are_hashed_once_from_their_stored_text(  # type: ignore[no-untyped-def]
    agency, hostile_chain, monkeypatch
) -> None:
    # Quotes, backslashes, control characters, emoji and line separators in the data are
    # stored exactly as hashed, by the ORM and by the bulk writer: one hash per event.
    bodies = _hash_calls(monkeypatch)
    report = audit_chain_verify(agency=agency, batch_size=3)
    assert report.ok and len(bodies) == report.checked


@pytest.mark.skipif(connection.vendor != "postgresql", reason="COPY text is PostgreSQL's")
def test_events_written_as_copy_lines_are_stored_like_the_tuples(agency, bob) -> None:  # type: ignore[no-untyped-def]
    # An import prepares its events' columns as COPY text ahead; the chain loop writes
    # the rest of each line. Hostile text and JSON escapes arrive as the tuple path's.
    rows = [
        ("x.bulk", "finding", str(n), hashing.hash_json({"url": text, "n": n}))
        for n, text in enumerate(["tab\there", 'quote " and \\ slash', "유나\nline", "\\N"])
    ]
    with transaction.atomic():
        audit_append_json(agency=agency, actor=bob, rows=rows)
        audit_append_json(
            agency=agency, actor=bob, rows=rows, copy_columns=audit_copy_columns(rows)
        )
    stored = list(
        AuditEvent.objects.filter(agency=agency, action="x.bulk")
        .order_by("seq")
        .values_list("actor_id", "actor_label", "action", "object_type", "object_id", "data")
    )
    assert stored[:4] == stored[4:] and len(stored) == 8
    assert audit_chain_verify(agency=agency).ok


# ------------------------------------------ every hashed column, within a run of shared ones


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("action", "b", "edited"),
        ("actor_label", "mallory", "edited"),
        ("object_type", "evidence", "edited"),
        ("object_id", "99", "edited"),
        ("created_at", "2020-01-02 03:04:05", "edited"),
        ("data", '{"n":-1}', "edited"),
        ("prev_hash", "0" * 64, "previous-hash link"),
        ("key_id", "other", "not configured"),
        ("key_id", "", "unkeyed event after keyed ones"),
    ],
)
def test_each_hashed_column_edited_within_a_bulk_run_is_caught(  # type: ignore[no-untyped-def]
    agency, long_chain, column, value, reason
) -> None:
    # #2-#13 share created_at, action, actor and object type (one bulk append), so the loop
    # reuses their escaped text: one edited event in the middle must still fail on its own.
    with as_db_owner():
        sql(f"UPDATE {EVENTS} SET {column} = %s WHERE id = %s", [value, long_chain[8].pk])
    report = audit_chain_verify(agency=agency, batch_size=5)
    assert (report.ok, report.broken_seq, report.checked) == (False, 8, 7)
    assert reason in report.reason


def test_the_agency_hashed_is_the_one_whose_chain_is_walked(  # type: ignore[no-untyped-def]
    agency, other_agency, long_chain
) -> None:
    # The loop reads no agency column: it hashes the agency it filters on. An event whose
    # HMAC (made with the key) covers another agency does not verify in this one's chain.
    event = long_chain[8]
    event.agency_id = other_agency.pk
    with as_db_owner():
        sql(
            f"UPDATE {EVENTS} SET hash = %s WHERE id = %s",
            [event_hash(event, audit_keys()[event.key_id]), event.pk],
        )
    report = audit_chain_verify(agency=agency, batch_size=5)
    assert (report.ok, report.broken_seq) == (False, 8)
    assert "HMAC" in report.reason


def test_an_event_moved_to_another_agency_is_missing_from_its_chain(  # type: ignore[no-untyped-def]
    agency, other_agency, long_chain
) -> None:
    with as_db_owner():
        sql(
            f"UPDATE {EVENTS} SET agency_id = %s WHERE id = %s", [other_agency.pk, long_chain[8].pk]
        )
    report = audit_chain_verify(agency=agency, batch_size=5)
    assert (report.ok, report.broken_seq) == (False, 8)
    assert "#8 is missing" in report.reason
    assert not audit_chain_verify(agency=other_agency, batch_size=5).ok
