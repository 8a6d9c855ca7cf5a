"""Detection runs are jobs of the one job runner (cases.kernel.jobs): a run whose worker died
is failed by the kernel's sweep (not resumed: a file that kills a worker would kill the
next), and a run past its time limit is failed saying so."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.urls import reverse
from django.utils import timezone

from cases.evidence.models import EvidenceKind
from cases.kernel.jobs import JobBusy, job_reap_all, job_reap_stale
from cases.kernel.models import AuditEvent
from detection.models import DetectionRun, DetectionStatus
from detection.services.analysis import detection_run_execute
from detection.tasks import detection_run_task
from tests.detection import workflow_fixtures
from tests.detection.detection_samples import png_of, textured_rgb
from tests.detection.workflow_fixtures import ingest

pytestmark = pytest.mark.django_db

# Fixtures shared by the detection workflow tests (autouse ones apply to this module).
detection_urls = workflow_fixtures.detection_urls

STALE = timedelta(minutes=15)


@pytest.fixture(autouse=True)
def _stale_after(settings: Any) -> None:
    settings.DETECTION_STALE_AFTER = STALE


@pytest.fixture
def evidence(agency: Any, finding: Any, bob: Any, django_capture_on_commit_callbacks: Any) -> Any:
    """An uploaded image whose automatic run has finished (no detector: provenance only)."""
    with django_capture_on_commit_callbacks(execute=True):
        return ingest(
            agency, png_of(textured_rgb()), actor=bob, finding=finding, kind=EvidenceKind.UPLOAD
        )


def make_run(evidence: Any, **fields: Any) -> DetectionRun:
    return DetectionRun.objects.create(agency=evidence.agency, evidence=evidence, **fields)


def job_events(agency: Any) -> list[str]:
    events = AuditEvent.objects.filter(
        agency=agency, action__in=["detection.failed", "detection.requeued", "detection.retried"]
    )
    return list(events.order_by("seq").values_list("action", flat=True))


# ---------------------------------------------------------------------------- lifecycle


def test_a_running_run_whose_worker_died_is_failed_by_the_kernel_sweep(evidence: Any) -> None:
    run = make_run(evidence, status=DetectionStatus.RUNNING, attempts=1, progress=35)
    almost = timezone.now() + STALE - timedelta(seconds=5)
    assert not job_reap_stale(model=DetectionRun, now=almost)
    reports = job_reap_all(now=timezone.now() + STALE + timedelta(seconds=1))
    assert reports["detection.DetectionRun"].failed == [run.pk]
    assert reports["detection.DetectionRun"].requeued == []
    run.refresh_from_db()
    assert run.status == DetectionStatus.FAILED and run.progress == 35
    assert "not tried again" in run.error and run.finished_at is not None
    event = AuditEvent.objects.get(agency=evidence.agency, action="detection.failed")
    assert event.object_id == str(run.pk) and event.data["evidence"] == evidence.pk


def test_a_redelivered_message_leaves_a_live_run_alone_and_fails_a_dead_one(
    evidence: Any,
) -> None:
    live = make_run(evidence, status=DetectionStatus.RUNNING, attempts=1)
    with pytest.raises(JobBusy):
        detection_run_execute(run_id=live.pk)
    dead = make_run(
        evidence,
        status=DetectionStatus.RUNNING,
        attempts=1,
        heartbeat_at=timezone.now() - STALE - timedelta(seconds=1),
    )
    assert detection_run_execute(run_id=dead.pk) is None
    live.refresh_from_db()
    dead.refresh_from_db()
    assert (live.status, live.attempts) == (DetectionStatus.RUNNING, 1)
    assert dead.status == DetectionStatus.FAILED and "stopped 1 time(s)" in dead.error


def test_a_run_past_its_time_limit_is_failed_saying_so(
    evidence: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import detection.services.analysis

    def slow(*args: Any, **kwargs: Any) -> Any:
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(detection.services.analysis, "provenance_signals", slow)
    run = make_run(evidence)
    detection_run_task.apply(kwargs={"run_id": run.pk})
    run.refresh_from_db()
    assert run.status == DetectionStatus.FAILED
    assert "took longer than" in run.error and run.item_probability is None
    assert job_events(evidence.agency) == ["detection.failed"]
    assert not AuditEvent.objects.filter(action="detection.finished", data__run=run.pk).exists()


def test_the_panel_says_why_the_job_runner_failed_a_run(
    client: Any, carol: Any, evidence: Any
) -> None:
    make_run(
        evidence,
        status=DetectionStatus.FAILED,
        attempts=1,
        error="The worker stopped 1 time(s) before the job finished; it was not tried again.",
    )
    client.force_login(carol)
    page = client.get(reverse("evidence_detection", args=[evidence.pk])).content.decode()
    assert 'data-detection-status="failed"' in page
    assert "The worker stopped 1 time(s)" in page
