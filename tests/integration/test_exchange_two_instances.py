"""Two AgencyGuard instances exchange banks over HTTP: two processes, two databases.

Instance A (Aurora) is a second process: its own SQLite database, migrated and filled by
`manage.py` subprocesses, served by `manage.py runserver` on a free port. Instance B
(Nebula) is this test process with its own test database. B subscribes to A's feed and
fetches it through the SSRF-safe fetcher (loopback test switch): a fake confirmed in A is
recognised on a new upload in B and on a watched-source item of B; consent withdrawn in A
removes the signal from B on its next fetch; a page that does not verify under the key B
holds is refused and logged.

Needs no PostgreSQL or Redis (both instances on SQLite); about a minute (A's migrate)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cases.intake.models import Finding, FindingSource
from cases.intake.services.source_polls import watched_source_poll
from cases.intake.services.watched_sources import watched_source_save
from cases.kernel.models import AuditEvent
from cases.matching.models import PartnerMatch, PartnerMatchKind, PartnerSignal
from cases.matching.services.exchange import subscription_fetch, subscription_save
from cases.matching.services.partner_matching import partner_cache_clear
from tests.factories import make_finding
from tests.matching.conftest import store_image
from tests.matching.images import jpeg_bytes, portrait, resized
from tests.monitor.web import fixture_web

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

ROOT = Path(__file__).resolve().parents[2]

SETUP_A = """
import json
from cases.agency.services.consent import artist_consent_record
from cases.kernel.models import Role
from cases.matching.services.exchange import partner_create
from detection.services.reviews import detection_review_record
from tests.factories import ArtistFactory, MembershipFactory, UserFactory, make_agency, make_finding
from tests.matching.conftest import store_image
from tests.matching.images import portrait

agency = make_agency("Aurora Entertainment", "aurora")
admin = MembershipFactory(agency=agency, role=Role.ADMIN, user=UserFactory(username="alice")).user
artist = ArtistFactory(agency=agency, stage_name="Yuna", legal_name="Kim Yuna")
artist_consent_record(artist=artist, actor=admin)
finding = make_finding(agency, "https://x.com/fake/status/1", actor=admin, artists=[artist])
evidence = store_image(agency, portrait("obama"), finding=finding, actor=admin)
detection_review_record(evidence=evidence, verdict="confirmed_fake", actor=admin)
partner, key = partner_create(agency=agency, actor=admin, name="Nebula Music")
print("RESULT " + json.dumps({"key": key, "signing_key": partner.signing_key,
                              "sha256": evidence.sha256}))
"""

WITHDRAW_A = """
from cases.agency.models import Artist
from cases.agency.services.consent import artist_consent_withdraw
from django.contrib.auth.models import User
artist_consent_withdraw(artist=Artist.objects.get(stage_name="Yuna"),
                        actor=User.objects.get(username="alice"))
print("RESULT withdrawn")
"""


def _feed(media_url: str) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>u</title>'
        "<link>https://www.tiktok.com/</link><item><title>new upload</title>"
        "<link>https://www.tiktok.com/@anon/video/901</link>"
        f'<enclosure url="{media_url}" type="image/jpeg" length="1"/></item></channel></rss>'
    ).encode()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class InstanceA:
    """The second deployment: its own database and VAR_DIR, its own processes."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.port = _free_port()
        self.env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{base / 'aurora.sqlite3'}",
            "VAR_DIR": str(base),
            "DEBUG": "1",
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "PYTHONPATH": str(ROOT),
        }
        self.server: subprocess.Popen[bytes] | None = None

    def manage(self, *args: str, timeout: int = 180) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        output = done.stdout.decode() + done.stderr.decode()
        assert done.returncode == 0, output
        return output

    def shell(self, code: str) -> str:
        output = self.manage("shell", "--no-imports", "-c", code)
        lines = [line for line in output.splitlines() if line.startswith("RESULT ")]
        assert lines, output
        return lines[-1].removeprefix("RESULT ")

    def serve(self) -> None:
        self.server = subprocess.Popen(
            [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{self.port}"],
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2)
                return
            except OSError:
                assert self.server.poll() is None, "instance A's server exited"
                time.sleep(0.3)
        pytest.fail("instance A's server did not come up")

    def stop(self) -> None:
        if self.server is not None and self.server.poll() is None:
            self.server.terminate()
            self.server.wait(timeout=10)

    @property
    def feed_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/exchange/bank/"


@pytest.fixture
def aurora(tmp_path: Path) -> Iterator[tuple[InstanceA, dict[str, Any]]]:
    instance = InstanceA(tmp_path / "aurora")
    instance.base.mkdir()
    instance.manage("migrate", "-v0", timeout=300)
    published = json.loads(instance.shell(SETUP_A))
    instance.serve()
    yield instance, published
    instance.stop()


def test_two_instances_exchange_banks_over_http(settings, aurora, other_agency, mallory):
    instance, published = aurora
    settings.CAPTURE_ALLOW_LOOPBACK_FOR_TESTS = True
    settings.EXCHANGE_ALLOWED_PORTS = [instance.port]
    partner_cache_clear()
    subscription = subscription_save(
        agency=other_agency,
        actor=mallory,
        name="Aurora Entertainment",
        feed_url=instance.feed_url,
        api_key=published["key"],
        signing_key=published["signing_key"],
    )
    report = subscription_fetch(subscription_id=subscription.pk)
    assert (report.error, report.added) == ("", 1)
    assert PartnerSignal.objects.get(subscription=subscription).sha256 == published["sha256"]

    # A new upload in Nebula: a smaller, recompressed copy of Aurora's confirmed fake.
    finding = make_finding(other_agency, "https://x.com/nebula/status/1", actor=mallory)
    copy = store_image(
        other_agency, jpeg_bytes(resized(portrait("obama"), 0.7), 70), finding=finding
    )
    match = PartnerMatch.objects.get(evidence=copy)
    assert match.subscription == subscription and match.kind == PartnerMatchKind.PDQ
    assert match.distance <= 31

    # A watched source of Nebula posts another copy: the poll recognises it by A's signal.
    with fixture_web() as web:
        settings.MONITOR_ALLOWED_PORTS = [web.port]
        web.serve("/copy.jpg", "image/jpeg", jpeg_bytes(resized(portrait("obama"), 0.5), 80))
        web.serve("/uploads.xml", "application/rss+xml", _feed(web.url("/copy.jpg")))
        source = watched_source_save(
            agency=other_agency,
            actor=mallory,
            name="Uploads",
            kind="feed",
            url=web.url("/uploads.xml"),
            interval_minutes=60,
        )
        assert watched_source_poll(source_id=source.pk).findings == 1
    discovered = Finding.objects.get(agency=other_agency, source=FindingSource.MONITOR)
    assert "partner 'Aurora Entertainment' signal" in discovered.discoveries.get().reason

    # A tampered page (here: verified under a key that is not the one A signed with).
    forged = subscription_save(
        agency=other_agency,
        actor=mallory,
        name="Forged",
        feed_url=instance.feed_url,
        api_key=published["key"],
        signing_key="not the signing key",
    )
    refused = subscription_fetch(subscription_id=forged.pk)
    assert "signature" in refused.error
    forged.refresh_from_db()
    assert forged.cursor == 0 and forged.last_error
    assert not PartnerSignal.objects.filter(subscription=forged).exists()
    assert AuditEvent.objects.filter(agency=other_agency, action="exchange.fetch_refused").exists()

    # Consent withdrawn in A: gone from B's index on the next fetch.
    assert instance.shell(WITHDRAW_A) == "withdrawn"
    report = subscription_fetch(subscription_id=subscription.pk)
    assert (report.error, report.deleted) == ("", 1)
    assert not PartnerSignal.objects.filter(subscription=subscription).exists()
    later = make_finding(other_agency, "https://x.com/nebula/status/2", actor=mallory)
    again = store_image(
        other_agency, jpeg_bytes(resized(portrait("obama"), 0.8), 80), finding=later
    )
    assert not PartnerMatch.objects.filter(evidence=again).exists()
