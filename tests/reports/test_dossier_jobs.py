"""Dossiers are jobs of the one job runner (cases.kernel.jobs): a dossier whose worker died
is built again by the kernel's sweep (and failed after three lost workers), a build that
fails or runs past its time limit is recorded and audited, and legal staff retry a failed
dossier from the case's dossier panel (audited). Outsiders get 404, viewers 403, and a
dossier that did not fail cannot be retried. Dossiers are not in the REST API."""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from cases.kernel import jobs
from cases.kernel.jobs import job_reap_all, job_reap_stale
from cases.kernel.models import AuditEvent
from cases.legal.services.legal_cases import case_create
from reports.models import Dossier, DossierKind, DossierStatus
from reports.services import DossierRefused, dossier_request, dossier_retry

pytestmark = pytest.mark.django_db

STALE = timedelta(minutes=15)
ERROR = "renderer crashed"


@pytest.fixture(autouse=True)
def _stale_after(settings):  # type: ignore[no-untyped-def]
    settings.DOSSIER_STALE_AFTER = STALE


@pytest.fixture
def case(agency, bob):  # type: ignore[no-untyped-def]
    """A case without findings: its dossier is quick to build."""
    return case_create(agency=agency, actor=bob, title="Quick case")


@pytest.fixture
def enqueued(monkeypatch):  # type: ignore[no-untyped-def]
    """Job ids the sweep sends to their task (after commit), instead of running them."""
    sent: list[int] = []
    monkeypatch.setattr(jobs, "job_enqueue", lambda *, job: sent.append(job.pk))
    return sent


def make_dossier(case, user, **fields) -> Dossier:  # type: ignore[no-untyped-def]
    return Dossier.objects.create(
        agency=case.agency,
        case=case,
        kind=DossierKind.DOSSIER,
        generated_by=user,
        generated_by_label=user.get_username(),
        **fields,
    )


def failed_dossier(case, user) -> Dossier:  # type: ignore[no-untyped-def]
    return make_dossier(
        case, user, status=DossierStatus.FAILED, attempts=1, progress=20, error=ERROR
    )


def job_events(agency) -> list[str]:  # type: ignore[no-untyped-def]
    events = AuditEvent.objects.filter(
        agency=agency, action__in=["dossier.failed", "dossier.requeued", "dossier.retried"]
    )
    return list(events.order_by("seq").values_list("action", flat=True))


def retry_url(dossier: Dossier) -> str:
    return reverse("case_dossier_retry", args=[dossier.case_id, dossier.pk])


# ---------------------------------------------------------------------------- lifecycle


def test_a_running_dossier_whose_worker_died_is_built_again_by_the_kernel_sweep(
    case, bob, enqueued, django_capture_on_commit_callbacks
) -> None:
    dossier = make_dossier(case, bob, status=DossierStatus.RUNNING, attempts=1, progress=20)
    almost = timezone.now() + STALE - timedelta(seconds=5)
    assert not job_reap_stale(model=Dossier, now=almost)
    with django_capture_on_commit_callbacks(execute=True):
        reports = job_reap_all(now=timezone.now() + STALE + timedelta(seconds=1))
    assert reports["reports.Dossier"].requeued == [dossier.pk]
    assert enqueued == [dossier.pk]
    dossier.refresh_from_db()
    assert (dossier.status, dossier.attempts) == (DossierStatus.QUEUED, 1)
    event = AuditEvent.objects.get(agency=case.agency, action="dossier.requeued")
    assert event.object_id == str(dossier.pk)
    assert event.data["case"] == case.pk and event.data["kind"] == "dossier"


def test_a_dossier_that_lost_its_worker_three_times_is_failed_by_the_sweep(
    case, bob, enqueued
) -> None:
    dossier = make_dossier(case, bob, status=DossierStatus.RUNNING, attempts=3, progress=60)
    reports = job_reap_all(now=timezone.now() + STALE + timedelta(seconds=1))
    assert reports["reports.Dossier"].failed == [dossier.pk]
    dossier.refresh_from_db()
    assert dossier.status == DossierStatus.FAILED and dossier.progress == 60
    assert "stopped 3 time(s)" in dossier.error
    assert enqueued == [] and job_events(case.agency) == ["dossier.failed"]


def test_a_build_that_fails_is_recorded_where_it_stopped_and_audited(
    case, bob, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    import reports.services

    def crash(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError(ERROR)

    monkeypatch.setattr(reports.services, "_render", crash)
    with django_capture_on_commit_callbacks(execute=True):
        dossier = dossier_request(case=case, kind="dossier", actor=bob)
    dossier.refresh_from_db()
    assert (dossier.status, dossier.error) == (DossierStatus.FAILED, ERROR)
    assert dossier.progress == 20 and dossier.pdf_sha256 == ""  # stopped while rendering
    assert job_events(case.agency) == ["dossier.failed"]


def test_a_build_past_its_time_limit_is_failed_saying_so(
    case, bob, monkeypatch, django_capture_on_commit_callbacks
) -> None:
    import reports.services

    def slow(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(reports.services, "_render", slow)
    with django_capture_on_commit_callbacks(execute=True):
        dossier = dossier_request(case=case, kind="dossier", actor=bob)
    dossier.refresh_from_db()
    assert dossier.status == DossierStatus.FAILED
    assert f"longer than {settings.REPORTS_SOFT_TIME_LIMIT_S} seconds" in dossier.error
    assert job_events(case.agency) == ["dossier.failed"]


# ---------------------------------------------------------------------------- retry


def test_retry_builds_the_same_dossier_again_and_is_audited(
    client, bob, case, django_capture_on_commit_callbacks
) -> None:
    dossier = failed_dossier(case, bob)
    client.force_login(bob)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(retry_url(dossier), HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "data-dossier-panel" in response.content.decode()
    dossier.refresh_from_db()
    assert (dossier.status, dossier.attempts, dossier.progress) == (DossierStatus.QUEUED, 0, 0)
    assert dossier.error == "" and dossier.finished_at is None
    event = AuditEvent.objects.get(agency=case.agency, action="dossier.retried")
    assert event.actor_id == bob.pk and event.object_id == str(dossier.pk)
    assert event.data == {"case": case.pk, "kind": "dossier", "error": ERROR, "attempts": 1}
    assert len(callbacks) == 1  # the build is sent after commit
    callbacks[0]()
    dossier.refresh_from_db()
    assert dossier.status == DossierStatus.DONE, dossier.error
    assert dossier.pdf_sha256 and dossier.progress == 100 and dossier.attempts == 1
    assert Dossier.objects.filter(case=case).count() == 1  # the same row, the same identifier


def test_an_outsider_gets_404_and_changes_nothing(client, mallory, bob, case) -> None:
    dossier = failed_dossier(case, bob)
    client.force_login(mallory)
    assert client.post(retry_url(dossier)).status_code == 404
    dossier.refresh_from_db()
    assert dossier.status == DossierStatus.FAILED and job_events(case.agency) == []
    with pytest.raises(DossierRefused):
        dossier_retry(dossier=dossier, actor=mallory)


def test_a_viewer_cannot_retry(client, carol, bob, case) -> None:
    dossier = failed_dossier(case, bob)
    client.force_login(carol)
    assert client.post(retry_url(dossier)).status_code == 403
    with pytest.raises(DossierRefused):
        dossier_retry(dossier=dossier, actor=carol)
    dossier.refresh_from_db()
    assert dossier.status == DossierStatus.FAILED and job_events(case.agency) == []


@pytest.mark.parametrize(
    "status", [DossierStatus.QUEUED, DossierStatus.RUNNING, DossierStatus.DONE]
)
def test_a_dossier_that_did_not_fail_cannot_be_retried(client, bob, case, status) -> None:
    dossier = make_dossier(case, bob, status=status, progress=40)
    client.force_login(bob)
    response = client.post(retry_url(dossier), HTTP_HX_REQUEST="true")
    assert "Only a failed dossier can be retried." in response.content.decode()
    dossier.refresh_from_db()
    assert (dossier.status, dossier.progress) == (status, 40)
    assert job_events(case.agency) == []


def test_the_panel_offers_a_retry_of_a_failed_dossier_to_legal_staff_only(
    client, bob, carol, case
) -> None:
    failed_dossier(case, bob)
    make_dossier(case, bob, status=DossierStatus.DONE, progress=100)
    url = reverse("case_dossier_panel", args=[case.pk])
    client.force_login(bob)
    page = client.get(url).content.decode()
    assert ERROR in page and page.count("data-dossier-retry-form") == 1
    client.force_login(carol)
    page = client.get(url).content.decode()
    assert ERROR in page and "data-dossier-retry-form" not in page
