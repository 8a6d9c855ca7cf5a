"""Re-checks under a frozen clock: what is due when, two removal observations
CAPTURE_REMOVAL_CONFIRM_MINUTES apart moving a finding to removed with the removal captured
as evidence, an unreachable host moving nothing, and content seen back twice reopening it
as reappeared with an alert to the assignee."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
import time_machine

from cases.evidence.models import Capture, CaptureStatus, Evidence
from cases.evidence.services.captures import capture_request, capture_run, recheck_due_findings
from cases.evidence.tasks import recheck_due_task
from cases.intake.models import FindingStatus
from cases.intake.services.findings import finding_set_status, finding_update
from cases.kernel import jobs
from cases.kernel.jobs import job_reap_stale
from cases.kernel.models import AuditEvent
from tests.capture.capture_site import PUBLIC_IP, site_url
from tests.factories import make_finding

pytestmark = pytest.mark.django_db

T0 = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)


def _finding_in(agency, bob, path: str, *statuses: str):  # type: ignore[no-untyped-def]
    finding = make_finding(agency, site_url(path), actor=bob)
    for status in statuses:
        finding = finding_set_status(finding=finding, status=status, actor=bob)
    return finding


def _closed_capture(finding, bob) -> Capture:  # type: ignore[no-untyped-def]
    """A visit that happened now (its outcome does not matter to scheduling)."""
    capture = capture_request(finding=finding, actor=bob)
    Capture.objects.filter(pk=capture.pk).update(status=CaptureStatus.DONE)
    return capture


def _run_due(network, now: datetime) -> list[Capture]:  # type: ignore[no-untyped-def]
    with time_machine.travel(now, tick=False):
        ids = recheck_due_findings()
        return [capture_run(capture_id=capture_id, **network.kwargs) for capture_id in ids]


def test_findings_are_rechecked_by_status_interval_and_never_twice_within_it(
    settings, agency, bob
) -> None:  # type: ignore[no-untyped-def]
    settings.CAPTURE_RECHECK_INTERVALS = {
        "captured": timedelta(hours=12),
        "notice_sent": timedelta(hours=6),
        "removed": timedelta(hours=24),
    }
    with time_machine.travel(T0, tick=False):
        captured = _finding_in(agency, bob, "/a", "captured")
        notice = _finding_in(agency, bob, "/b", "captured", "notice_sent")
        removed = _finding_in(agency, bob, "/c", "captured", "removed")
        new = _finding_in(agency, bob, "/d")
        for finding in (captured, notice, removed, new):
            _closed_capture(finding, bob)

    with time_machine.travel(T0 + timedelta(hours=5), tick=False):
        assert recheck_due_findings() == []
    with time_machine.travel(T0 + timedelta(hours=7), tick=False):
        first = recheck_due_findings()
        again = recheck_due_findings()  # the next beat run, a minute later
    assert [Capture.objects.get(pk=pk).finding_id for pk in first] == [notice.pk]
    assert again == []  # queued, so not due again
    Capture.objects.filter(pk__in=first).update(status=CaptureStatus.DONE)

    with time_machine.travel(T0 + timedelta(hours=13, minutes=1), tick=False):
        due = {Capture.objects.get(pk=pk).finding_id for pk in recheck_due_findings()}
    assert due == {captured.pk, notice.pk}  # notice: 6h since its 7h re-check
    Capture.objects.filter(is_recheck=True).update(status=CaptureStatus.DONE)
    with time_machine.travel(T0 + timedelta(hours=25), tick=False):
        due = {Capture.objects.get(pk=pk).finding_id for pk in recheck_due_findings()}
    # Captured was visited 12h minus a minute ago; notice_sent is due every 6h; new never.
    assert due == {removed.pk, notice.pk}
    assert all(
        c.is_recheck and c.collector is None for c in Capture.objects.filter(is_recheck=True)
    )
    assert AuditEvent.objects.filter(action="capture.requested", actor_label="system").count() == 5


def test_recheck_batch_limit_takes_the_rest_on_the_next_run(settings, agency, bob) -> None:  # type: ignore[no-untyped-def]
    settings.CAPTURE_RECHECK_INTERVALS = {"captured": timedelta(hours=1)}
    settings.CAPTURE_RECHECK_BATCH = 3
    with time_machine.travel(T0, tick=False):
        for n in range(5):
            _finding_in(agency, bob, f"/batch/{n}", "captured")
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        assert len(recheck_due_findings()) == 3
        assert len(recheck_due_findings()) == 2
        assert recheck_due_findings() == []


def test_the_beat_task_is_scheduled_and_queues_due_rechecks(settings, agency, bob) -> None:  # type: ignore[no-untyped-def]
    assert (
        settings.CELERY_BEAT_SCHEDULE["capture-recheck-due"]["task"]
        == "cases.evidence.tasks.recheck_due_task"
    )
    settings.CAPTURE_RECHECK_INTERVALS = {"captured": timedelta(hours=1)}
    with time_machine.travel(T0, tick=False):
        _finding_in(agency, bob, "/beat", "captured")
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        assert recheck_due_task.apply().get() == 1


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://site.test/gone", "http_404"),
        ("http://site.test/deleted", "http_410"),
        (
            "http://www.youtube.com/removed",
            "removed_page: YouTube: video no longer available",
        ),
        ("http://blog.naver.com/removed-ko", "removed_page: Naver: post deleted"),
    ],
)
def test_two_rechecks_that_find_the_content_gone_move_the_finding_to_removed(
    settings, no_screenshot, agency, bob, network, url, reason
) -> None:  # type: ignore[no-untyped-def]
    settings.CAPTURE_REMOVAL_CONFIRM_MINUTES = 30
    network.names.update({"www.youtube.com": [PUBLIC_IP], "blog.naver.com": [PUBLIC_IP]})
    with time_machine.travel(T0, tick=False):
        finding = make_finding(agency, url, actor=bob)
        for status in ("captured", "notice_sent"):
            finding = finding_set_status(finding=finding, status=status, actor=bob)

    (first,) = _run_due(network, T0 + timedelta(hours=7))
    assert first.observation == "removed" and first.observation_reason == reason
    finding.refresh_from_db()
    # One observation is not a verdict: the confirming re-check is scheduled instead.
    assert finding.status == FindingStatus.NOTICE_SENT
    assert finding.recheck_due_at == T0 + timedelta(hours=7, minutes=30)
    assert _run_due(network, T0 + timedelta(hours=7, minutes=29)) == []

    (capture,) = _run_due(network, T0 + timedelta(hours=7, minutes=30))
    assert capture.is_recheck and capture.status == CaptureStatus.DONE
    assert capture.observation == "removed" and capture.observation_reason == reason
    finding.refresh_from_db()
    assert finding.status == FindingStatus.REMOVED and finding.recheck_due_at is None
    assert finding.removed_at == T0 + timedelta(hours=7, minutes=30)
    # The removal page itself is the evidence: its HTML, headers and WARC.
    kinds = set(Evidence.objects.filter(capture=capture).values_list("kind", flat=True))
    assert {"headers", "warc"} <= kinds
    assert "media" not in kinds
    event = AuditEvent.objects.filter(
        action="finding.status_changed", object_id=str(finding.pk)
    ).last()
    assert (
        event is not None
        and event.data["to"] == "removed"
        and f"#{capture.pk}" in event.data["reason"]
        and f"#{first.pk}" in event.data["reason"]
    )


def test_a_recheck_whose_host_no_longer_resolves_is_unreachable_not_removed(
    no_screenshot, agency, bob, network
) -> None:  # type: ignore[no-untyped-def]
    network.names["vanished.test"] = ["93.184.216.34"]
    with time_machine.travel(T0, tick=False):
        finding = make_finding(agency, "http://vanished.test/v/1", actor=bob)
        finding = finding_set_status(finding=finding, status="captured", actor=bob)
    del network.names["vanished.test"]

    (capture,) = _run_due(network, T0 + timedelta(hours=13))
    (again,) = _run_due(network, T0 + timedelta(hours=26))

    for visit in (capture, again):
        assert visit.status == CaptureStatus.FAILED and visit.outcome == "dns_error"
        assert (visit.observation, visit.observation_reason) == ("unreachable", "dns_error")
    finding.refresh_from_db()
    assert finding.status == FindingStatus.CAPTURED and finding.recheck_due_at is None
    record = Evidence.objects.get(capture=capture, kind="headers")
    assert record.finding_id == finding.pk


def test_a_live_recheck_keeps_the_status_and_collects_no_media_again(
    no_screenshot, agency, bob, network
) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False):
        finding = _finding_in(agency, bob, "/page", "captured", "notice_sent")

    (capture,) = _run_due(network, T0 + timedelta(hours=7))

    assert capture.status == CaptureStatus.DONE and capture.observation == "live"
    finding.refresh_from_db()
    assert finding.status == FindingStatus.NOTICE_SENT
    assert "media" not in {item["kind"] for item in capture.details["artefacts"]}


def test_content_coming_back_reopens_the_finding_and_alerts_the_assignee(
    settings,
    no_screenshot,
    agency,
    bob,
    alice,
    network,
    site,
    mailoutbox,
    django_capture_on_commit_callbacks,
) -> None:  # type: ignore[no-untyped-def]
    settings.CAPTURE_REMOVAL_CONFIRM_MINUTES = 30
    network.names["www.youtube.com"] = [PUBLIC_IP]
    with time_machine.travel(T0, tick=False):
        finding = make_finding(agency, "http://www.youtube.com/toggle", actor=bob)
        finding_update(finding=finding, actor=alice, assignee=bob)
        first = capture_run(
            capture_id=capture_request(finding=finding, actor=bob).pk, **network.kwargs
        )
        finding = finding_set_status(finding=finding, status="notice_sent", actor=bob)
    assert first is not None and first.status == CaptureStatus.DONE

    site.live = False
    _run_due(network, T0 + timedelta(hours=7))
    (removal,) = _run_due(network, T0 + timedelta(hours=7, minutes=30))
    finding.refresh_from_db()
    assert finding.status == FindingStatus.REMOVED
    assert removal.observation_reason.startswith("removed_page: YouTube")

    site.live = True
    with time_machine.travel(T0 + timedelta(hours=32), tick=False):
        (seen_id,) = recheck_due_findings()
        seen = capture_run(capture_id=seen_id, **network.kwargs)
    finding.refresh_from_db()
    # Seen online once: not yet reappeared, the confirming visit is due in 30 minutes.
    assert seen is not None and seen.observation == "live"
    assert finding.status == FindingStatus.REMOVED
    assert finding.recheck_due_at == T0 + timedelta(hours=32, minutes=30)
    assert mailoutbox == []
    with time_machine.travel(T0 + timedelta(hours=32, minutes=30), tick=False):
        (back_id,) = recheck_due_findings()
        # The e-mail goes out when the capture's transaction commits.
        with django_capture_on_commit_callbacks(execute=True):
            back = capture_run(capture_id=back_id, **network.kwargs)

    assert back is not None and back.status == CaptureStatus.DONE
    finding.refresh_from_db()
    assert finding.status == FindingStatus.REAPPEARED
    assert finding.reappeared_at == T0 + timedelta(hours=32, minutes=30)
    alert = AuditEvent.objects.get(action="finding.reappeared_alert", object_id=str(finding.pk))
    assert alert.data == {"capture": back.pk, "assignee": "bob", "emailed": True}
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["bob@example.test"]
    assert f"#{finding.pk}" in mailoutbox[0].subject and finding.canonical_url in mailoutbox[0].body
    # The returning content is captured in full again: its media too.
    assert "media" in {item["kind"] for item in back.details["artefacts"]}
    assert "media" in {item["kind"] for item in seen.details["artefacts"]}


def test_a_capture_whose_worker_vanished_is_requeued_then_failed_and_the_finding_rechecked(
    settings, agency, bob, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    settings.CAPTURE_RECHECK_INTERVALS = {"captured": timedelta(hours=1)}
    stale = settings.CAPTURE_STALE_AFTER
    with time_machine.travel(T0, tick=False):
        finding = _finding_in(agency, bob, "/stale", "captured")
        stuck = capture_request(finding=finding, actor=bob)
        # Claimed by a worker that then vanished (its heartbeat stopped at T0).
        Capture.objects.filter(pk=stuck.pk).update(
            status=CaptureStatus.RUNNING, started_at=T0, heartbeat_at=T0, attempts=1
        )

    with time_machine.travel(T0 + stale - timedelta(minutes=1), tick=False):
        assert job_reap_stale(model=Capture).requeued == []  # still within CAPTURE_STALE_AFTER
    # Attempts left: the sweep puts it back in the queue (and sends its task after commit).
    with (
        time_machine.travel(T0 + stale + timedelta(minutes=1), tick=False),
        mock.patch.object(jobs, "job_enqueue") as enqueue,
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert job_reap_stale(model=Capture).requeued == [stuck.pk]
    assert enqueue.call_count == 1
    stuck.refresh_from_db()
    assert stuck.status == CaptureStatus.QUEUED

    # The worker takes it and vanishes again, until no attempt is left: failed.
    with time_machine.travel(T0 + timedelta(hours=1), tick=False):
        Capture.objects.filter(pk=stuck.pk).update(
            status=CaptureStatus.RUNNING, heartbeat_at=T0 + timedelta(hours=1), attempts=3
        )
    with time_machine.travel(T0 + timedelta(hours=2), tick=False):
        ids = recheck_due_findings()

    stuck.refresh_from_db()
    assert stuck.status == CaptureStatus.FAILED and "worker stopped 3 time(s)" in stuck.error
    assert stuck.outcome == "" and stuck.is_retryable
    assert (
        AuditEvent.objects.filter(action="capture.requeued", object_id=str(stuck.pk)).count() == 1
    )
    failed = AuditEvent.objects.get(action="capture.failed", object_id=str(stuck.pk))
    assert failed.data["finding"] == finding.pk
    assert len(ids) == 1 and Capture.objects.get(pk=ids[0]).finding_id == finding.pk


def test_the_visit_record_of_a_gone_page_is_canonical_json(
    no_screenshot, agency, bob, network
) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False):
        _finding_in(agency, bob, "/gone", "captured")
    (capture,) = _run_due(network, T0 + timedelta(hours=13))
    record = Evidence.objects.get(capture=capture, kind="headers")
    from cases.evidence.services.evidence import evidence_open

    with evidence_open(record) as handle:
        data = json.loads(handle.read())
    assert data["final_url"] == site_url("/gone") and data["hops"][-1]["status"] == 404
