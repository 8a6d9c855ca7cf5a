"""Mallory (admin of Nebula) finds nothing of Aurora's detection: its runs, reviews and
buttons are 404 to her, and her own agency-wide re-run touches only her own evidence."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from detection.models import DetectionReview, DetectionRun
from detection.services.reviews import detection_review_record
from tests.detection import workflow_fixtures
from tests.detection.detection_samples import png_of, textured_rgb
from tests.detection.workflow_fixtures import ingest

pytestmark = pytest.mark.django_db

# Fixtures shared by the detection workflow tests (autouse ones apply to this module).
detection_urls = workflow_fixtures.detection_urls


@pytest.fixture
def aurora_evidence(
    agency: Any, finding: Any, bob: Any, django_capture_on_commit_callbacks: Any
) -> Any:
    with django_capture_on_commit_callbacks(execute=True):
        evidence = ingest(agency, png_of(textured_rgb()), actor=bob, finding=finding)
    detection_review_record(
        evidence=evidence, verdict="confirmed_fake", actor=bob, note="AURORA-SECRET-NOTE"
    )
    return evidence


def _state() -> tuple[list[Any], list[Any]]:
    return (
        list(DetectionRun.objects.order_by("pk").values()),
        list(DetectionReview.objects.order_by("pk").values()),
    )


def test_outsider_gets_404_for_every_detection_url_of_another_agency(
    client: Any, mallory: Any, aurora_evidence: Any
) -> None:
    before = _state()
    client.force_login(mallory)
    pk = aurora_evidence.pk
    assert client.get(reverse("evidence_detection", args=[pk])).status_code == 404
    assert client.post(reverse("evidence_detection_rerun", args=[pk])).status_code == 404
    response = client.post(
        reverse("evidence_detection_review", args=[pk]), {"verdict": "not_fake", "note": "x"}
    )
    assert response.status_code == 404
    assert _state() == before


def test_outsider_rerun_all_touches_only_her_own_agency(
    client: Any,
    mallory: Any,
    other_agency: Any,
    aurora_evidence: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        ingest(other_agency, png_of(textured_rgb(seed=5)), actor=mallory)
    aurora_runs = list(DetectionRun.objects.filter(agency=aurora_evidence.agency).values())
    client.force_login(mallory)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("detection_rerun_all"))
    assert response.status_code == 302
    assert list(DetectionRun.objects.filter(agency=aurora_evidence.agency).values()) == aurora_runs
    assert DetectionRun.objects.filter(agency=other_agency).count() == 2


def test_outsider_sees_the_global_detector_list_without_aurora_data(
    client: Any, mallory: Any, aurora_evidence: Any
) -> None:
    client.force_login(mallory)
    response = client.get(reverse("detector_list"))
    assert response.status_code == 200
    assert "aurora" not in response.content.decode().lower()


def test_anonymous_visitors_are_sent_to_log_in(client: Any, aurora_evidence: Any) -> None:
    login = reverse("login")
    for method, name, args in (
        ("get", "evidence_detection", [aurora_evidence.pk]),
        ("post", "evidence_detection_rerun", [aurora_evidence.pk]),
        ("post", "evidence_detection_review", [aurora_evidence.pk]),
        ("get", "detector_list", []),
        ("post", "detection_rerun_all", []),
    ):
        response = getattr(client, method)(reverse(name, args=args))
        assert response.status_code == 302 and response["Location"].startswith(login), name
