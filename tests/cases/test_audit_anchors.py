"""Anchors of the audit chain head in write-once storage, keys and their rotation, unkeyed
events from before keying, and the commands and schedule that use them."""

from __future__ import annotations

import json
import stat
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from cases.kernel.audit.anchors import anchor_list, anchor_read
from cases.kernel.audit.keys import audit_keys_check
from cases.kernel.audit.services import audit_anchor, audit_chain_verify
from cases.kernel.audit.tasks import audit_anchor_all_task
from cases.kernel.models import Agency, AuditEvent
from tests.audit_helpers import EVENTS, as_db_owner, events_of, rewrite_from, sql
from tests.factories import make_finding

OLD_KEY = "old-key-0123456789-0123456789-0123456789"
NEW_KEY = "new-key-9876543210-9876543210-9876543210"


# A TimeStampResp "granted" with a dummy token, as in tests/reports/test_packet_trust.py.
GRANTED_RESPONSE = bytes.fromhex("3010" + "3003020100" + "3009" + "06072a864886f70d010702")


@pytest.fixture
def tsa_server():  # type: ignore[no-untyped-def]
    received: list[tuple[str, bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers["Content-Type"], body))
            self.send_response(200)
            self.send_header("Content-Length", str(len(GRANTED_RESPONSE)))
            self.end_headers()
            self.wfile.write(GRANTED_RESPONSE)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/tsa", received
    server.shutdown()


def _findings(agency, actor, n: int, start: int = 0) -> None:  # type: ignore[no-untyped-def]
    for i in range(start, start + n):
        make_finding(agency, f"https://example.com/clip/{i}", actor=actor)


def test_an_anchor_is_a_write_once_record_of_the_head(agency, bob, settings) -> None:  # type: ignore[no-untyped-def]
    _findings(agency, bob, 3)
    head = events_of(agency)[-1]
    outcome = audit_anchor(agency=agency, reason="test")
    assert outcome.written and outcome.record is not None
    record = outcome.record
    assert (record.ref.seq, record.ref.hash, record.key_id) == (head.seq, head.hash, head.key_id)
    path = Path(settings.MEDIA_ROOT) / record.ref.name
    content = json.loads(path.read_text())
    assert content["format"] == "agencyguard.audit-anchor/1"
    assert (content["agency"], content["seq"], content["hash"]) == (agency.pk, head.seq, head.hash)
    assert content["previous_anchor"] is None
    assert not path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    assert "no Time-Stamp Authority" in outcome.timestamp_note

    # Nothing new: the same anchor, not a second file.
    again = audit_anchor(agency=agency, reason="test")
    assert not again.written and again.record.ref == record.ref
    assert len(anchor_list(agency.pk)) == 1

    _findings(agency, bob, 1, start=10)
    later = audit_anchor(agency=agency, reason="test")
    assert later.written and later.record.ref.seq == head.seq + 1
    assert later.record.content["previous_anchor"] == {"seq": head.seq, "hash": head.hash}


def test_an_agency_without_events_is_not_anchored(db) -> None:  # type: ignore[no-untyped-def]
    empty = Agency.objects.create(name="Empty", slug="empty")
    outcome = audit_anchor(agency=empty, reason="test")
    assert outcome.report.ok and outcome.record is None and not anchor_list(empty.pk)


def test_a_broken_chain_is_never_anchored(agency, bob) -> None:  # type: ignore[no-untyped-def]
    _findings(agency, bob, 3)
    with as_db_owner():
        sql(f"UPDATE {EVENTS} SET action = 'forged' WHERE agency_id = %s AND seq = 2", [agency.pk])
    outcome = audit_anchor(agency=agency, reason="test")
    assert outcome.record is None and not outcome.report.ok and outcome.report.broken_seq == 2
    assert anchor_list(agency.pk) == []


def test_a_configured_tsa_timestamps_the_anchor(agency, bob, settings, tsa_server) -> None:  # type: ignore[no-untyped-def]
    import hashlib

    url, received = tsa_server
    settings.TSA_URL = url
    settings.CAPTURE_ALLOW_LOOPBACK_FOR_TESTS = True
    _findings(agency, bob, 2)
    outcome = audit_anchor(agency=agency, reason="test")
    assert outcome.record.timestamped and url in outcome.timestamp_note
    record_bytes = (Path(settings.MEDIA_ROOT) / outcome.record.ref.name).read_bytes()
    [(_content_type, body)] = received
    assert hashlib.sha256(record_bytes).digest() in body
    assert (Path(settings.MEDIA_ROOT) / outcome.record.ref.token_name).exists()


def test_a_failing_tsa_still_anchors_and_says_so(agency, bob, settings, tsa_server) -> None:  # type: ignore[no-untyped-def]
    url, _received = tsa_server
    settings.TSA_URL = url
    settings.CAPTURE_ALLOW_LOOPBACK_FOR_TESTS = False  # loopback refused: the TSA fails
    _findings(agency, bob, 2)
    outcome = audit_anchor(agency=agency, reason="test")
    assert outcome.written and not outcome.record.timestamped
    assert "not timestamped" in outcome.timestamp_note and "refused" in outcome.timestamp_note


# --- keys ------------------------------------------------------------------------------------


def test_rotated_keys_still_verify_and_new_events_use_the_current_one(
    agency, bob, settings
) -> None:  # type: ignore[no-untyped-def]
    dev = dict(settings.AUDIT_HMAC_KEYS)  # the agency's own first event used it
    settings.AUDIT_HMAC_KEYS, settings.AUDIT_HMAC_KEY_ID = {**dev, "k2025": OLD_KEY}, "k2025"
    _findings(agency, bob, 2)
    settings.AUDIT_HMAC_KEYS = {**dev, "k2025": OLD_KEY, "k2026": NEW_KEY}
    settings.AUDIT_HMAC_KEY_ID = "k2026"
    _findings(agency, bob, 2, start=10)
    key_ids = [event.key_id for event in events_of(agency)]
    assert key_ids[-2:] == ["k2026", "k2026"] and "k2025" in key_ids
    assert audit_chain_verify(agency=agency).ok

    # Dropping the old key from the environment leaves its events unverifiable, and says so.
    settings.AUDIT_HMAC_KEYS = {**dev, "k2026": NEW_KEY}
    report = audit_chain_verify(agency=agency)
    assert not report.ok and report.broken_seq == key_ids.index("k2025") + 1
    assert "key id 'k2025', which is not configured" in report.reason


def test_the_key_never_reaches_the_database(agency, bob, settings) -> None:  # type: ignore[no-untyped-def]
    settings.AUDIT_HMAC_KEYS, settings.AUDIT_HMAC_KEY_ID = {"k1": NEW_KEY}, "k1"
    _findings(agency, bob, 2)
    rows = [json.dumps(list(row), default=str) for row in AuditEvent.objects.values_list()]
    assert not any(NEW_KEY in row for row in rows)


@pytest.mark.parametrize(
    ("debug", "keys", "current", "errors"),
    [
        (False, {}, "", ["cases.E100"]),
        (False, {"dev": "x" * 40}, "dev", ["cases.E102"]),
        (False, {"k1": "too-short"}, "k1", ["cases.E102"]),
        (False, {"k1": NEW_KEY}, "k2", ["cases.E103"]),
        (False, {"bad id!": NEW_KEY}, "bad id!", ["cases.E101"]),
        (False, {"k1": NEW_KEY}, "k1", []),
        (True, {"dev": "agencyguard-development-audit-key-not-a-secret"}, "dev", []),
    ],
)
def test_the_system_check_refuses_production_without_a_proper_key(
    settings, debug, keys, current, errors
) -> None:  # type: ignore[no-untyped-def]
    settings.DEBUG, settings.AUDIT_HMAC_KEYS, settings.AUDIT_HMAC_KEY_ID = debug, keys, current
    assert [error.id for error in audit_keys_check()] == errors


# --- events from before keying -----------------------------------------------------------------


def _as_legacy(agency) -> None:  # type: ignore[no-untyped-def]
    """Turn the chain into what a deployment had before keying: key id "", plain SHA-256."""
    rewrite_from(agency, 0, key=None, key_id="")


def test_unkeyed_events_verify_once_the_first_anchor_covers_them(agency, bob) -> None:  # type: ignore[no-untyped-def]
    _findings(agency, bob, 3)
    _as_legacy(agency)
    report = audit_chain_verify(agency=agency)
    assert not report.ok and "no anchor covers them yet" in report.reason
    assert "audit_anchor" in report.reason

    outcome = audit_anchor(agency=agency, reason="upgrade")
    assert outcome.written and outcome.record.key_id == ""
    _findings(agency, bob, 2, start=10)  # keyed from here on
    report = audit_chain_verify(agency=agency)
    assert report.ok, report.reason
    assert {e.key_id for e in events_of(agency)} == {"", "dev"}


def test_an_unkeyed_event_after_keyed_ones_is_caught(agency, bob) -> None:  # type: ignore[no-untyped-def]
    _findings(agency, bob, 4)
    last = events_of(agency)[-1]
    rewrite_from(agency, last.seq, key=None, key_id="", start_at=last.seq)
    report = audit_chain_verify(agency=agency)
    assert (report.ok, report.broken_seq) == (False, last.seq)
    assert "unkeyed event after keyed ones" in report.reason


# --- commands and the schedule --------------------------------------------------------------------


def test_audit_anchor_command_anchors_every_agency(agency, other_agency, bob) -> None:  # type: ignore[no-untyped-def]
    _findings(agency, bob, 2)
    Agency.objects.create(name="Empty", slug="empty")
    out = StringIO()
    call_command("audit_anchor", stdout=out)
    assert "NEW     aurora: head #" in out.getvalue()
    assert "NEW     nebula: head #1" in out.getvalue()
    assert "EMPTY   empty: no events yet" in out.getvalue()
    out = StringIO()
    call_command("audit_anchor", "--agency", "aurora", stdout=out)
    assert "SAME    aurora" in out.getvalue()


def test_audit_anchor_command_fails_on_a_broken_chain(agency, bob) -> None:  # type: ignore[no-untyped-def]
    _findings(agency, bob, 2)
    with as_db_owner():
        sql(f"DELETE FROM {EVENTS} WHERE agency_id = %s AND seq = 2", [agency.pk])
    out = StringIO()
    with pytest.raises(CommandError, match="Not anchored, audit chain broken for: aurora"):
        call_command("audit_anchor", stdout=out)
    assert "BROKEN  aurora: event #2" in out.getvalue()
    with pytest.raises(CommandError, match="No agency with slug 'nowhere'"):
        call_command("audit_anchor", "--agency", "nowhere", stdout=StringIO())


def test_audit_verify_reports_the_anchors_it_checked(agency, bob) -> None:  # type: ignore[no-untyped-def]
    _findings(agency, bob, 2)
    out = StringIO()
    call_command("audit_verify", stdout=out)
    assert "no anchor yet" in out.getvalue()
    call_command("audit_anchor", stdout=StringIO())
    out = StringIO()
    call_command("audit_verify", stdout=out)
    head = events_of(agency)[-1].seq
    assert f"1 anchors matched, latest at #{head}" in out.getvalue()


def test_the_schedule_anchors_every_agency_through_the_same_service(agency, bob) -> None:  # type: ignore[no-untyped-def]
    entry = django_settings.CELERY_BEAT_SCHEDULE["audit-anchor"]
    assert entry["task"] == audit_anchor_all_task.name
    _findings(agency, bob, 2)
    audit_anchor_all_task.delay()
    [ref] = anchor_list(agency.pk)
    assert ref.seq == events_of(agency)[-1].seq
    assert anchor_read(ref).content["reason"] == "schedule"


def test_the_audit_page_says_which_anchors_the_chain_was_checked_against(
    client, alice, agency, bob
) -> None:  # type: ignore[no-untyped-def]
    from django.urls import reverse

    _findings(agency, bob, 2)
    client.force_login(alice)
    content = client.post(reverse("audit_list")).content.decode()
    assert "Chain intact." in content and "No anchor has been written yet" in content
    head = audit_anchor(agency=agency, reason="test").record.ref.seq
    content = client.post(reverse("audit_list")).content.decode()
    assert (
        f"Checked against 1 anchor in write-once storage, the latest at event #{head}." in content
    )
    assert "No anchor has been written yet" not in content


def test_unreadable_anchors_are_reported_not_raised(
    client, alice, agency, bob, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    from django.urls import reverse

    import cases.kernel.audit.verify as audit_verify

    def unreachable(agency_id: int) -> list[object]:
        raise OSError("bucket unreachable")

    monkeypatch.setattr(audit_verify, "anchor_list", unreachable)
    report = audit_chain_verify(agency=agency)
    assert not report.ok and report.broken_seq is None and "bucket unreachable" in report.reason
    client.force_login(alice)
    content = client.post(reverse("audit_list")).content.decode()
    assert "The chain could not be verified." in content and "Chain broken!" not in content
    out = StringIO()
    with pytest.raises(CommandError, match="broken or unverifiable for: aurora"):
        call_command("audit_verify", "--agency", "aurora", stdout=out)
    assert "FAILED  aurora: the anchors could not be read" in out.getvalue()


@pytest.mark.parametrize("value", ["a-pasted-secret-without-an-id", "k1=", "=secret-without-id"])
def test_a_malformed_audit_key_list_stops_start_up_without_echoing_it(value: str) -> None:
    import os
    import subprocess
    import sys

    env = {**os.environ, "AUDIT_HMAC_KEYS": value, "DJANGO_SETTINGS_MODULE": "agencyguard.settings"}
    result = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "AUDIT_HMAC_KEYS must be a comma-separated list of id=secret entries" in result.stderr
    assert "pasted-secret" not in result.stderr and "secret-without-id" not in result.stderr
