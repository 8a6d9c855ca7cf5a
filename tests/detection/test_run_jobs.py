"""Detection runs are jobs of the one job runner (cases.kernel.jobs): a run whose worker died
is failed by the kernel's sweep (not resumed: a file that kills a worker would kill the
next), a run past its time limit is failed saying so, and legal staff retry a failed run
from the evidence panel or the API (audited). Outsiders get 404, viewers 403, and a run
that did not fail cannot be retried."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

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
ERROR = "RuntimeError: GPU fell off the bus"


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


def failed_run(evidence: Any) -> DetectionRun:
    """The latest run of the item, failed by an exception half-way."""
    return make_run(
        evidence,
        status=DetectionStatus.FAILED,
        attempts=1,
        progress=50,
        message=ERROR,
        error=ERROR,
        timings={"run_total": 3.0},
        finished_at=timezone.now(),
    )


def job_events(agency: Any) -> list[str]:
    events = AuditEvent.objects.filter(
        agency=agency, action__in=["detection.failed", "detection.requeued", "detection.retried"]
    )
    return list(events.order_by("seq").values_list("action", flat=True))


def retry_url(run: DetectionRun) -> str:
    return reverse("evidence_detection_retry", args=[run.evidence_id, run.pk])


def api_retry_url(run: DetectionRun) -> str:
    return reverse("api:evidence-detection-retry", args=[run.evidence_id, run.pk])


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


def test_the_panel_says_why_a_run_failed_and_offers_a_retry_to_legal_staff_only(
    client: Any, bob: Any, carol: Any, evidence: Any
) -> None:
    make_run(
        evidence,
        status=DetectionStatus.FAILED,
        attempts=1,
        error="The worker stopped 1 time(s) before the job finished; it was not tried again.",
    )
    url = reverse("evidence_detection", args=[evidence.pk])
    client.force_login(bob)
    page = client.get(url).content.decode()
    assert "The worker stopped 1 time(s)" in page
    assert "data-detection-retry-form" in page and "data-detection-rerun-form" not in page
    client.force_login(carol)
    page = client.get(url).content.decode()
    assert "The worker stopped 1 time(s)" in page and "data-detection-retry-form" not in page


# ---------------------------------------------------------------------------- retry (UI)


def test_retry_queues_the_same_run_again_and_is_audited(
    client: Any, bob: Any, evidence: Any, django_capture_on_commit_callbacks: Any
) -> None:
    run = failed_run(evidence)
    runs_before = DetectionRun.objects.filter(evidence=evidence).count()
    client.force_login(bob)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(retry_url(run), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "data-detection-panel" in response.content.decode()
    assert len(callbacks) == 1  # the task is sent after commit
    run.refresh_from_db()
    assert (run.status, run.attempts, run.progress) == (DetectionStatus.QUEUED, 0, 0)
    assert run.message == "" and run.error == "" and run.finished_at is None
    assert DetectionRun.objects.filter(evidence=evidence).count() == runs_before
    event = AuditEvent.objects.get(agency=evidence.agency, action="detection.retried")
    assert event.actor_id == bob.pk and event.object_id == str(run.pk)
    assert event.data == {"evidence": evidence.pk, "error": ERROR, "attempts": 1}


def test_a_retried_run_runs_to_its_end(
    client: Any, bob: Any, evidence: Any, django_capture_on_commit_callbacks: Any
) -> None:
    run = failed_run(evidence)
    client.force_login(bob)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(retry_url(run), follow=True)
    assert response.status_code == 200
    run.refresh_from_db()
    # No detector installed: provenance only, the status says so.
    assert run.status == DetectionStatus.NO_DETECTOR and run.progress == 100
    assert run.attempts == 1 and ERROR not in run.message
    assert AuditEvent.objects.filter(action="detection.finished", data__run=run.pk).exists()


def test_an_outsider_gets_404_and_changes_nothing(client: Any, mallory: Any, evidence: Any) -> None:
    run = failed_run(evidence)
    client.force_login(mallory)
    assert client.post(retry_url(run)).status_code == 404
    run.refresh_from_db()
    assert run.status == DetectionStatus.FAILED and job_events(evidence.agency) == []


def test_a_viewer_cannot_retry(client: Any, carol: Any, evidence: Any) -> None:
    run = failed_run(evidence)
    client.force_login(carol)
    assert client.post(retry_url(run)).status_code == 403
    run.refresh_from_db()
    assert run.status == DetectionStatus.FAILED and job_events(evidence.agency) == []


def test_a_run_of_another_item_is_not_found_through_this_one(
    client: Any, bob: Any, agency: Any, evidence: Any
) -> None:
    other = ingest(agency, png_of(textured_rgb(seed=5)), actor=bob)
    run = failed_run(other)
    client.force_login(bob)
    url = reverse("evidence_detection_retry", args=[evidence.pk, run.pk])
    assert client.post(url).status_code == 404
    run.refresh_from_db()
    assert run.status == DetectionStatus.FAILED


@pytest.mark.parametrize(
    "status",
    [
        DetectionStatus.QUEUED,
        DetectionStatus.RUNNING,
        DetectionStatus.NO_DETECTOR,
        DetectionStatus.MODEL_ERROR,
    ],
)
def test_a_run_that_did_not_fail_cannot_be_retried(
    client: Any, bob: Any, evidence: Any, status: str
) -> None:
    run = make_run(evidence, status=status, message="as it was", progress=40)
    client.force_login(bob)
    response = client.post(retry_url(run), follow=True)
    assert "Only a failed detection run can be retried." in response.content.decode()
    run.refresh_from_db()
    assert (run.status, run.message, run.progress) == (status, "as it was", 40)
    assert job_events(evidence.agency) == []


# ---------------------------------------------------------------------------- retry (API)


def api_as(user: Any) -> APIClient:
    api = APIClient()
    api.force_authenticate(user)
    return api


def test_the_api_retries_a_failed_run(
    bob: Any, evidence: Any, django_capture_on_commit_callbacks: Any
) -> None:
    run = failed_run(evidence)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api_as(bob).post(api_retry_url(run))
    assert response.status_code == 202, response.content
    assert response.json()["id"] == run.pk and response.json()["status"] == "queued"
    assert len(callbacks) == 1
    run.refresh_from_db()
    assert run.status == DetectionStatus.QUEUED
    assert job_events(evidence.agency) == ["detection.retried"]


def test_the_api_says_why_the_job_runner_failed_a_run(carol: Any, evidence: Any) -> None:
    lost = "The worker stopped 1 time(s) before the job finished; it was not tried again."
    run = make_run(evidence, status=DetectionStatus.FAILED, attempts=1, error=lost)
    body = api_as(carol).get(reverse("api:evidence-detections", args=[evidence.pk])).json()
    [shown] = [r for r in body["runs"] if r["id"] == run.pk]
    assert (shown["status"], shown["message"], shown["error"]) == ("failed", "", lost)


def test_the_api_refuses_outsiders_viewers_and_runs_that_did_not_fail(
    bob: Any, carol: Any, mallory: Any, evidence: Any
) -> None:
    run = failed_run(evidence)
    assert api_as(mallory).post(api_retry_url(run)).status_code == 404
    assert api_as(carol).post(api_retry_url(run)).status_code == 403
    done = make_run(evidence, status=DetectionStatus.NO_FACES, progress=100)
    response = api_as(bob).post(api_retry_url(done))
    assert response.status_code == 409
    assert response.json()["detail"] == "Only a failed detection run can be retried."
    run.refresh_from_db()
    done.refresh_from_db()
    assert (run.status, done.status) == (DetectionStatus.FAILED, DetectionStatus.NO_FACES)
    assert job_events(evidence.agency) == []
