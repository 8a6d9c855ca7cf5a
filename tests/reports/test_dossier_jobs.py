"""Dossiers are jobs of the one job runner (cases.kernel.jobs): a dossier whose worker died
is built again by the kernel's sweep (and failed after three lost workers), and a build
that fails or runs past its time limit is recorded and audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.utils import timezone

from cases.kernel import jobs
from cases.kernel.jobs import job_reap_all, job_reap_stale
from cases.kernel.models import AuditEvent
from cases.legal.services.legal_cases import case_create
from reports.models import Dossier, DossierKind, DossierStatus
from reports.services import dossier_request

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


def job_events(agency) -> list[str]:  # type: ignore[no-untyped-def]
    events = AuditEvent.objects.filter(
        agency=agency, action__in=["dossier.failed", "dossier.requeued", "dossier.retried"]
    )
    return list(events.order_by("seq").values_list("action", flat=True))


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
