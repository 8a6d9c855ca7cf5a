"""A platform running python-threatexchange (the library behind Meta's HMA) subscribes to an
agency's bank with the shipped extension (integrations/threatexchange_agencyguard): its own
CLI (`threatexchange config`, `fetch`, `match`, in a subprocess) reads the bank from this
running AgencyGuard, builds its own PDQ index and matches a copy of a confirmed fake;
withdrawn consent deletes the signal on the next fetch; a tampered page is refused."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cases.agency.services.consent import artist_consent_record, artist_consent_withdraw
from cases.matching.exchange_format import SIGNATURE_HEADER
from cases.matching.services.exchange import partner_create
from tests.exchange.conftest import fake_of
from tests.factories import ArtistFactory, make_finding
from tests.matching.images import jpeg_bytes, portrait, resized, scene

# A subprocess CLI against a live server: run with the serial selection.
pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

BANK = "/api/exchange/bank/"


def _tx(state: Path, keys: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`threatexchange <args>` as a platform runs it, with its own state directory."""
    env = {
        **os.environ,
        "HOME": str(state),
        "TX_STATEDIR": str(state / ".threatexchange"),
        "TX_AGENCYGUARD_KEYS": keys,
    }
    return subprocess.run(
        [sys.executable, "-m", "threatexchange", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture
def tampering_proxy(live_server) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Forwards to the live server and changes one byte of each page, keeping its signature
    (a man in the middle who swaps a hash)."""

    class Proxy(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            upstream = urllib.request.Request(
                live_server.url + self.path,
                headers={"Authorization": self.headers.get("Authorization", "")},
            )
            with urllib.request.urlopen(upstream, timeout=30) as response:
                body = response.read()
                signature = response.headers.get(SIGNATURE_HEADER, "")
            body = body.replace(b'"pdq":["', b'"pdq":["0', 1).replace(b'0"]', b'"]', 1)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header(SIGNATURE_HEADER, signature)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}{BANK}"
    server.shutdown()
    server.server_close()


def test_threatexchange_fetches_the_bank_and_matches_a_confirmed_fake(
    live_server, tampering_proxy, tmp_path, agency, alice, bob, consenting, finding
):
    original = portrait("obama")
    published = fake_of(agency, original, finding, bob)
    # A second artist's two fakes stay in the bank throughout. (threatexchange 1.2.17's CLI
    # keeps a stale index when a type's last signal is deleted, and its PDQ index of a single
    # hash matches nothing once read back from disk: docs/exchange.md.)
    staying_artist = ArtistFactory(agency=agency, stage_name="Haneul")
    artist_consent_record(artist=staying_artist, actor=alice, note="signed form 2026-12-01")
    staying_finding = make_finding(
        agency, "https://x.com/fake/status/9", actor=bob, artists=[staying_artist]
    )
    staying = fake_of(agency, portrait("biden"), staying_finding, bob)
    fake_of(agency, scene(11), staying_finding, bob)
    partner, api_key = partner_create(agency=agency, actor=alice, name="Trust & Safety, Example")
    keys = f"{api_key},{partner.signing_key}"
    copy = tmp_path / "upload.jpg"
    copy.write_bytes(jpeg_bytes(resized(original, 0.7), 70))
    unrelated = tmp_path / "holiday.jpg"
    unrelated.write_bytes(jpeg_bytes(scene(7), 85))

    _ok(_tx(tmp_path, keys, "config", "extensions", "add", "threatexchange_agencyguard"))
    _ok(
        _tx(
            tmp_path,
            keys,
            "config",
            "collab",
            "edit",
            "agency_guard",
            "aurora_bank",
            "--create",
            f"--feed-url={live_server.url}{BANK}",
        )
    )
    fetched = _tx(tmp_path, keys, "fetch")
    _ok(fetched)
    assert "Up to date" in fetched.stderr

    # threatexchange's own PDQ index, built from the fetched state, matches the platform's
    # upload (a smaller, recompressed copy) and the published hash itself ...
    matched = _ok(_tx(tmp_path, keys, "match", "photo", str(copy)))
    assert "pdq" in matched and "aurora_bank" in matched and "deepfake" in matched
    exact = _ok(_tx(tmp_path, keys, "match", "--hashes", "photo", "--", published.pdq_hash))
    assert "aurora_bank" in exact
    assert "aurora_bank" in _ok(
        _tx(tmp_path, keys, "match", "--hashes", "photo", "--", staying.pdq_hash)
    )
    # ... and not an unrelated picture.
    assert "aurora_bank" not in _ok(_tx(tmp_path, keys, "match", "photo", str(unrelated)))

    # A page changed on the way keeps its old signature: refused, nothing of it is stored.
    _ok(
        _tx(
            tmp_path,
            keys,
            "config",
            "collab",
            "edit",
            "agency_guard",
            "tampered_bank",
            "--create",
            f"--feed-url={tampering_proxy}",
        )
    )
    refused = _tx(tmp_path, keys, "-v", "fetch", "--only-collab", "tampered_bank")
    assert refused.returncode != 0
    assert "signature does not verify" in refused.stderr
    state_files = {p.name for p in (tmp_path / ".threatexchange").rglob("*.state.pickle")}
    assert "aurora_bank.state.pickle" in state_files
    assert "tampered_bank.state.pickle" not in state_files
    _ok(_tx(tmp_path, keys, "config", "collab", "delete", "tampered_bank"))

    # The artist withdraws consent: the next fetch (from the kept cursor) deletes the signal.
    artist_consent_withdraw(artist=consenting, actor=alice)
    _ok(_tx(tmp_path, keys, "fetch"))
    assert "aurora_bank" not in _ok(_tx(tmp_path, keys, "match", "photo", str(copy)))
    assert "aurora_bank" not in _ok(
        _tx(tmp_path, keys, "match", "--hashes", "photo", "--", published.pdq_hash)
    )
    # The other artist's signal was not touched.
    assert "aurora_bank" in _ok(
        _tx(tmp_path, keys, "match", "--hashes", "photo", "--", staying.pdq_hash)
    )


def test_wrong_keys_fetch_nothing(live_server, tmp_path, agency, alice, bob, consenting, finding):
    fake_of(agency, portrait("obama"), finding, bob)
    partner, api_key = partner_create(agency=agency, actor=alice, name="Trust & Safety, Example")
    _ok(_tx(tmp_path, "", "config", "extensions", "add", "threatexchange_agencyguard"))
    _ok(
        _tx(
            tmp_path,
            "",
            "config",
            "collab",
            "edit",
            "agency_guard",
            "aurora_bank",
            "--create",
            f"--feed-url={live_server.url}{BANK}",
        )
    )
    # Another partner's signing key: every page is refused before it is read.
    wrong_signing = _tx(tmp_path, f"{api_key},{'0' * 64}", "-v", "fetch")
    assert wrong_signing.returncode != 0 and "signature does not verify" in wrong_signing.stderr
    # An unknown API key: the bank answers 401/403 and the CLI says so.
    wrong_key = _tx(tmp_path, f"agx_nope_nope,{partner.signing_key}", "-v", "fetch")
    assert wrong_key.returncode != 0 and "HTTP 40" in wrong_key.stderr
    assert not list((tmp_path / ".threatexchange").rglob("*.state.pickle"))
