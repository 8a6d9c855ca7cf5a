"""Removal only on positive evidence (issue 9). An unreachable URL (DNS failure, connection
error, a 5xx: anything on the collector's side) says nothing about the content and never
moves a finding, closes a notice or counts as a removal; a removal (404/410/451 or a
platform's own "content unavailable" page) moves a finding only when a second observation
at least CAPTURE_REMOVAL_CONFIRM_MINUTES later agrees, with no live one between."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from cases.agency.models import Platform
from cases.evidence.models import Capture
from cases.evidence.services.captures import capture_request, capture_run, recheck_due_findings
from cases.intake.models import Finding, FindingStatus
from cases.intake.services.findings import finding_set_status
from cases.kernel.models import AuditEvent
from cases.notices.models import Notice, NoticeStatus
from cases.notices.services.drafts import notice_create
from cases.stats import selectors as stats
from tests.capture.capture_site import PUBLIC_IP, FakeNetwork, SuspectSite, page_html
from tests.factories import make_finding

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
N = 30  # CAPTURE_REMOVAL_CONFIRM_MINUTES in these tests


@dataclass
class RemovalSite(SuspectSite):
    """The suspect site plus /status/<code> (any status) and /flip (the page while
    `live`, a 404 otherwise)."""

    def route(self, h, path: str, query: str) -> None:  # type: ignore[no-untyped-def]
        if path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            h.send_body(code, b"<!doctype html><title>Error</title><h1>Error</h1>", "text/html")
        elif path == "/flip":
            if self.live:
                h.send_body(200, page_html(), "text/html; charset=utf-8")
            else:
                h.send_body(404, b"<!doctype html><title>Not found</title>", "text/html")
        else:
            super().route(h, path, query)


@pytest.fixture
def removal_site() -> Iterator[RemovalSite]:
    site = RemovalSite().start()
    yield site
    site.stop()


@pytest.fixture
def net(removal_site: RemovalSite) -> FakeNetwork:
    network = FakeNetwork(removal_site.port)
    for host in ("www.youtube.com", "www.reddit.com", "blog.naver.com"):
        network.names[host] = [PUBLIC_IP]
    return network


@pytest.fixture
def confirm(settings, no_screenshot, agency):  # type: ignore[no-untyped-def]
    # The test site is a platform of its own (with no removal signatures), so that its
    # findings can have notices.
    Platform.objects.create(agency=agency, name="Suspect Host", domains=["site.test"])
    settings.CAPTURE_REMOVAL_CONFIRM_MINUTES = N
    settings.CAPTURE_RECHECK_INTERVALS = {
        "captured": timedelta(hours=12),
        "notice_sent": timedelta(hours=6),
        "removed": timedelta(hours=24),
    }
    return settings


def _offline(host: str, port: int) -> list[str]:
    raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")


def _capture(finding: Finding, actor, net: FakeNetwork, at: datetime, offline: bool = False):  # type: ignore[no-untyped-def]
    """ "Capture now" at a moment."""
    kwargs = {"resolver": _offline, "connector": net.connector} if offline else net.kwargs
    with time_machine.travel(at, tick=False):
        capture = capture_run(capture_id=capture_request(finding=finding, actor=actor).pk, **kwargs)
    assert capture is not None
    return capture


def _recheck(net: FakeNetwork, at: datetime) -> list[Capture]:
    with time_machine.travel(at, tick=False):
        return [capture_run(capture_id=pk, **net.kwargs) for pk in recheck_due_findings()]  # type: ignore[misc]


def _sent_finding(agency, bob, url: str) -> tuple[Finding, Notice]:  # type: ignore[no-untyped-def]
    """A finding in notice_sent with a sent notice, as of T0 - 1 day."""
    with time_machine.travel(T0 - timedelta(days=1), tick=False):
        finding = make_finding(agency, url, actor=bob)
        finding = finding_set_status(finding=finding, status="captured", actor=bob)
        notice = notice_create(
            agency=agency, actor=bob, findings=[finding], legal_basis="platform_policy"
        )
        Notice.objects.filter(pk=notice.pk).update(
            status=NoticeStatus.SENT, rendered_sha256="0" * 64, sent_at=T0 - timedelta(days=1)
        )
        finding = finding_set_status(finding=finding, status="notice_sent", actor=bob)
    return finding, notice


def _page(client, user, name: str, *args: object) -> str:  # type: ignore[no-untyped-def]
    client.force_login(user)
    response = client.get(reverse(name, args=args))
    assert response.status_code == 200
    return response.content.decode()


# --- the finding: unreachable is not removed ---------------------------------------------


def test_capture_now_with_the_collector_offline_leaves_the_finding_and_its_notices(
    confirm, client, agency, bob, net
) -> None:  # type: ignore[no-untyped-def]
    finding, notice = _sent_finding(agency, bob, "https://www.youtube.com/watch?v=offline")

    first = _capture(finding, bob, net, T0, offline=True)
    second = _capture(finding, bob, net, T0 + timedelta(hours=2), offline=True)

    for capture in (first, second):
        assert capture.outcome == "dns_error"
        assert (capture.observation, capture.observation_reason) == ("unreachable", "dns_error")
    finding.refresh_from_db()
    notice.refresh_from_db()
    assert finding.status == FindingStatus.NOTICE_SENT and finding.removed_at is None
    assert finding.recheck_due_at is None
    assert notice.status == NoticeStatus.SENT and notice.proof_capture_id is None
    assert not AuditEvent.objects.filter(action="finding.removal_observed").exists()
    # What the pages say: unreachable, and what that does not mean.
    detail = _page(client, bob, "capture_detail", first.pk)
    assert "Unreachable" in detail and "Host name could not be resolved" in detail
    assert "this says nothing about whether the content was removed" in detail
    assert "Removal observed" not in detail
    page = _page(client, bob, "finding_detail", finding.pk)
    assert "Unreachable" in page and "awaiting confirmation" not in page
    assert 'data-observation-state="none"' in page


@pytest.mark.parametrize("code", [500, 502, 503, 403, 429])
def test_a_server_error_or_refusal_to_serve_is_unreachable(confirm, agency, bob, net, code) -> None:  # type: ignore[no-untyped-def]
    finding, notice = _sent_finding(agency, bob, f"http://site.test/status/{code}")
    for minutes in (0, N, 2 * N):
        capture = _capture(finding, bob, net, T0 + timedelta(minutes=minutes))
        assert capture.http_status == code
        assert (capture.observation, capture.observation_reason) == ("unreachable", f"http_{code}")
    finding.refresh_from_db()
    notice.refresh_from_db()
    assert finding.status == FindingStatus.NOTICE_SENT and notice.status == NoticeStatus.SENT


# --- the N-minute rule -------------------------------------------------------------------


def test_two_404s_at_least_n_minutes_apart_remove_the_finding_and_close_its_notices(
    confirm, client, agency, bob, net
) -> None:  # type: ignore[no-untyped-def]
    finding, notice = _sent_finding(agency, bob, "http://site.test/gone")

    first = _capture(finding, bob, net, T0)
    assert (first.observation, first.observation_reason) == ("removed", "http_404")
    finding.refresh_from_db()
    notice.refresh_from_db()
    assert finding.status == FindingStatus.NOTICE_SENT and notice.status == NoticeStatus.SENT
    assert finding.recheck_due_at == T0 + timedelta(minutes=N)
    page = _page(client, bob, "finding_detail", finding.pk)
    assert "Removal observed, awaiting confirmation." in page
    # In the agency's zone with its label, UTC beside the observation (an evidence time).
    assert (
        f"Capture #{first.pk} saw the content removed at "
        "2025-06-02 18:00:00 KST (2025-06-02 09:00:00 UTC)" in page
    )
    assert "at or after 2025-06-02 18:30 KST" in page
    event = AuditEvent.objects.get(action="finding.removal_observed")
    assert event.data["capture"] == first.pk

    # A second click within N minutes is one more observation, not a confirmation.
    early = _capture(finding, bob, net, T0 + timedelta(minutes=N - 1))
    assert early.observation == "removed"
    finding.refresh_from_db()
    assert finding.status == FindingStatus.NOTICE_SENT
    assert finding.recheck_due_at == T0 + timedelta(minutes=N)

    # The confirming re-check is queued by the beat, long before notice_sent's 6 hours.
    assert _recheck(net, T0 + timedelta(minutes=N - 1)) == []
    (confirming,) = _recheck(net, T0 + timedelta(minutes=N))
    assert confirming.is_recheck and confirming.observation == "removed"
    finding.refresh_from_db()
    notice.refresh_from_db()
    assert finding.status == FindingStatus.REMOVED and finding.recheck_due_at is None
    assert notice.status == NoticeStatus.ACTIONED
    assert notice.proof_capture_id == confirming.pk
    page = _page(client, bob, "finding_detail", finding.pk)
    assert "awaiting confirmation" not in page and "Removal observed" in page


def test_a_404_then_a_200_does_not_remove_and_restarts_the_count(
    confirm, client, agency, bob, net, removal_site
) -> None:  # type: ignore[no-untyped-def]
    finding, notice = _sent_finding(agency, bob, "http://site.test/flip")
    removal_site.live = False
    _capture(finding, bob, net, T0)
    removal_site.live = True
    (live,) = _recheck(net, T0 + timedelta(minutes=N))
    assert live.observation == "live"
    finding.refresh_from_db()
    assert finding.status == FindingStatus.NOTICE_SENT and finding.recheck_due_at is None
    assert AuditEvent.objects.filter(action="finding.change_unconfirmed").count() == 1
    assert "awaiting confirmation" not in _page(client, bob, "finding_detail", finding.pk)

    # Gone again: the run starts over after the live observation, so an old 404 does not
    # confirm the new one.
    removal_site.live = False
    again = _capture(finding, bob, net, T0 + timedelta(minutes=N + 5))
    finding.refresh_from_db()
    assert finding.status == FindingStatus.NOTICE_SENT
    assert finding.recheck_due_at == again.observed_at + timedelta(minutes=N)
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.SENT


def test_unreachable_visits_neither_confirm_nor_cancel_a_pending_removal(
    confirm, agency, bob, net
) -> None:  # type: ignore[no-untyped-def]
    finding, notice = _sent_finding(agency, bob, "http://site.test/gone")
    first = _capture(finding, bob, net, T0)
    # The confirming visit cannot reach the site: nothing changes, it is tried again later.
    with time_machine.travel(T0 + timedelta(minutes=N), tick=False):
        (pk,) = recheck_due_findings()
        offline = capture_run(capture_id=pk, resolver=_offline, connector=net.connector)
    assert offline is not None and offline.observation == "unreachable"
    finding.refresh_from_db()
    assert finding.status == FindingStatus.NOTICE_SENT
    assert finding.recheck_due_at == T0 + timedelta(minutes=2 * N)
    assert _recheck(net, T0 + timedelta(minutes=2 * N - 1)) == []

    (confirming,) = _recheck(net, T0 + timedelta(minutes=2 * N))
    finding.refresh_from_db()
    notice.refresh_from_db()
    assert finding.status == FindingStatus.REMOVED
    assert notice.status == NoticeStatus.ACTIONED and notice.proof_capture_id == confirming.pk
    reason = AuditEvent.objects.filter(action="finding.status_changed").last().data["reason"]  # type: ignore[union-attr]
    assert f"#{confirming.pk}" in reason and f"#{first.pk}" in reason and "http_404" in reason


def test_a_single_live_observation_does_not_reopen_a_removed_finding(
    confirm, agency, bob, net, removal_site
) -> None:  # type: ignore[no-untyped-def]
    finding, _notice = _sent_finding(agency, bob, "http://site.test/flip")
    removal_site.live = False
    _capture(finding, bob, net, T0)
    _capture(finding, bob, net, T0 + timedelta(minutes=N))
    finding.refresh_from_db()
    assert finding.status == FindingStatus.REMOVED

    removal_site.live = True
    _capture(finding, bob, net, T0 + timedelta(hours=2))
    removal_site.live = False  # a flaky cache served the page once
    _capture(finding, bob, net, T0 + timedelta(hours=3))
    finding.refresh_from_db()
    assert finding.status == FindingStatus.REMOVED and finding.reappeared_at is None
    assert finding.recheck_due_at is None
    assert AuditEvent.objects.filter(action="finding.return_observed").count() == 1


def test_a_finding_marked_removed_by_hand_after_a_live_visit_is_not_awaiting_anything(
    confirm, client, agency, bob, net
) -> None:  # type: ignore[no-untyped-def]
    finding, _notice = _sent_finding(agency, bob, "http://site.test/page")
    _capture(finding, bob, net, T0)
    with time_machine.travel(T0 + timedelta(minutes=5), tick=False):
        finding_set_status(finding=finding, status="removed", actor=bob, reason="Platform e-mail")
    page = _page(client, bob, "finding_detail", finding.pk)
    assert "awaiting confirmation" not in page and 'data-observation-state="none"' in page


def test_rechecks_with_the_collector_offline_change_nothing_for_days(
    confirm, agency, bob, net
) -> None:  # type: ignore[no-untyped-def]
    sent, notice = _sent_finding(agency, bob, "https://www.youtube.com/watch?v=beat-1")
    with time_machine.travel(T0 - timedelta(days=1), tick=False):
        captured = finding_set_status(
            finding=make_finding(agency, "https://www.tiktok.com/@x/video/2", actor=bob),
            status="captured",
            actor=bob,
        )
    visits = []
    for hours in range(0, 72, 6):
        with time_machine.travel(T0 + timedelta(hours=hours), tick=False):
            for pk in recheck_due_findings():
                visits.append(
                    capture_run(capture_id=pk, resolver=_offline, connector=net.connector)
                )
    assert len(visits) >= 8 and {v.observation for v in visits} == {"unreachable"}  # type: ignore[union-attr]
    for finding, status in ((sent, "notice_sent"), (captured, "captured")):
        finding.refresh_from_db()
        assert finding.status == status and finding.removed_at is None
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.SENT and notice.closed_at is None
    assert stats.reappearance(bob).removed_ever == 0


def test_a_manual_removal_never_cites_an_unreachable_visit_as_proof(
    confirm, agency, bob, net
) -> None:  # type: ignore[no-untyped-def]
    finding, notice = _sent_finding(agency, bob, "https://www.youtube.com/watch?v=manual")
    _capture(finding, bob, net, T0, offline=True)
    finding_set_status(finding=finding, status="removed", actor=bob, reason="Platform e-mail")
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.ACTIONED and notice.proof_capture_id is None


# --- removal signatures ------------------------------------------------------------------


def test_a_platform_removal_page_counts_only_on_that_platform(confirm, agency, bob, net) -> None:  # type: ignore[no-untyped-def]
    youtube, _n1 = _sent_finding(agency, bob, "http://www.youtube.com/removed")
    reddit, _n2 = _sent_finding(agency, bob, "http://www.reddit.com/removed")
    unknown, _n3 = _sent_finding(agency, bob, "http://site.test/removed")
    naver, _n4 = _sent_finding(agency, bob, "http://blog.naver.com/removed-ko")

    assert _capture(youtube, bob, net, T0).observation_reason == (
        "removed_page: YouTube: video no longer available"
    )
    assert _capture(naver, bob, net, T0).observation_reason == "removed_page: Naver: post deleted"
    # The same words served by another platform, or by a site we know nothing of, are
    # just a page that is online.
    for finding in (reddit, unknown):
        capture = _capture(finding, bob, net, T0)
        assert (capture.observation, capture.observation_reason) == ("live", "http_200")


def test_a_deactivated_signature_is_no_longer_used(confirm, agency, alice, bob, net) -> None:  # type: ignore[no-untyped-def]
    from cases.evidence.models import RemovalSignature
    from cases.evidence.services.removal_signatures import removal_signature_update

    signature = RemovalSignature.objects.get(
        agency=agency, platform__name="YouTube", name="video no longer available"
    )
    removal_signature_update(signature=signature, actor=alice, is_active=False)
    finding, _notice = _sent_finding(agency, bob, "http://www.youtube.com/removed")
    assert _capture(finding, bob, net, T0).observation == "live"


# --- statistics ----------------------------------------------------------------------------


def test_statistics_show_unreachable_apart_and_never_as_removed(
    confirm, client, agency, bob, net
) -> None:  # type: ignore[no-untyped-def]
    offline, _n1 = _sent_finding(agency, bob, "https://www.youtube.com/watch?v=stats-offline")
    gone, _n2 = _sent_finding(agency, bob, "http://site.test/gone")
    online, _n3 = _sent_finding(agency, bob, "http://site.test/page")
    _sent_finding(agency, bob, "http://site.test/never-visited")
    _capture(offline, bob, net, T0, offline=True)
    _capture(offline, bob, net, T0 + timedelta(minutes=N), offline=True)
    _capture(gone, bob, net, T0)  # one removal observation: not yet removed
    _capture(online, bob, net, T0)

    counts = {value: n for value, _label, n in stats.latest_observations(bob)}
    assert counts == {
        "live": 1,
        "removed": 1,
        "unreachable": 1,
        "refused": 0,
        "not_visited": 1,
    }
    assert stats.reappearance(bob).removed_ever == 0
    assert stats.removal_times_by_platform(bob) == []
    page = _page(client, bob, "stats_dashboard")
    assert 'data-observation="unreachable"><div class="stat-value">1<' in page
    client.force_login(bob)
    csv = client.get(reverse("stats_export") + "?table=observations").content.decode()
    assert "unreachable,1" in csv and "removed,1" in csv and "not_visited,1" in csv

    # Confirmed: now it counts as a removal, and the unreachable one still does not.
    _recheck(net, T0 + timedelta(minutes=N))
    assert stats.reappearance(bob).removed_ever == 1
    assert [row.count for row in stats.removal_times_by_platform(bob)] == [1]
    assert Finding.objects.get(pk=offline.pk).status == FindingStatus.NOTICE_SENT


def test_the_migration_gives_earlier_captures_the_observation_their_record_supports(
    agency, bob
) -> None:  # type: ignore[no-untyped-def]
    import importlib

    from django.apps import apps

    backfill = importlib.import_module("cases.migrations.0006_removal_evidence").backfill
    finding = make_finding(agency, "https://www.youtube.com/watch?v=old", actor=bob)
    old = [
        ("done", 404, "", {"gone": "http_404"}),
        ("done", 200, "", {"gone": "removed_page: video unavailable"}),
        ("done", 200, "", {"gone": ""}),
        ("done", 503, "", {"gone": ""}),
        ("failed", None, "dns_error", {"gone": "dns_error"}),
        ("refused", None, "refused", {}),
    ]
    ids = [
        Capture.objects.create(
            agency=agency,
            finding=finding,
            requested_url=finding.url,
            status=status,
            http_status=http,
            outcome=outcome,
            details=details,
            finished_at=T0,
        ).pk
        for status, http, outcome, details in old
    ]
    backfill(apps, None)
    got = [
        Capture.objects.values_list("observation", "observation_reason").get(pk=pk) for pk in ids
    ]
    assert got == [
        ("removed", "http_404"),
        ("removed", "removed_page: video unavailable"),
        ("live", "http_200"),
        ("unreachable", "http_503"),
        ("unreachable", "dns_error"),
        ("refused", "refused"),
    ]
    assert set(Capture.objects.filter(pk__in=ids).values_list("observed_at", flat=True)) == {T0}
