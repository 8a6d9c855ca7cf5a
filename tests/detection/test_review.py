"""The human review is the verdict: legal staff and admins record it (audited, latest wins),
viewers read it. Scores are shown for what they are (calibrated probability or raw model
score) with the model's AUC."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from cases.evidence.models import EvidenceKind
from cases.kernel.models import AuditEvent
from detection.models import (
    DetectionReview,
    DetectionRun,
    DetectionStatus,
    DetectorVersion,
    ReviewVerdict,
)
from tests.detection import workflow_fixtures
from tests.detection.detection_samples import png_of, textured_rgb
from tests.detection.factories import detector_version, passing_card_fields
from tests.detection.workflow_fixtures import ingest

pytestmark = pytest.mark.django_db

# Fixtures shared by the detection workflow tests (autouse ones apply to this module).
detection_urls = workflow_fixtures.detection_urls


@pytest.fixture
def evidence(agency: Any, finding: Any, bob: Any, django_capture_on_commit_callbacks: Any) -> Any:
    """An uploaded image whose automatic run has finished (no detector: provenance only)."""
    with django_capture_on_commit_callbacks(execute=True):
        return ingest(
            agency, png_of(textured_rgb()), actor=bob, finding=finding, kind=EvidenceKind.UPLOAD
        )


def _version(auc: float | None = 0.91, n_eval: int = 412) -> DetectorVersion:
    """Measured (and so gate-passing, active) with `auc`; unmeasured without."""
    if auc is None:
        return detector_version(card={"licence": "internal", "limits": "faces only"})
    return detector_version(card=passing_card_fields(n_per_class=n_eval // 2, auc=auc))


def _done_run(evidence: Any, version: DetectorVersion, probability: float = 0.8734) -> DetectionRun:
    return DetectionRun.objects.create(
        agency=evidence.agency,
        evidence=evidence,
        detector_version=version,
        status=DetectionStatus.DONE,
        item_probability=probability,
        score_calibrated=version.calibrated,
        checkpoint_sha256=version.checkpoint_sha256,
        faces=[
            {
                "frame_index": 0,
                "bbox": [1, 2, 30, 40],
                "det_score": 0.99,
                "probability": probability,
            }
        ],
        device="cpu",
        timings={"total": 12.5},
        progress=100,
    )


def _review(client: Any, evidence: Any, follow: bool = False, **data: Any) -> Any:
    return client.post(
        reverse("evidence_detection_review", args=[evidence.pk]), data, follow=follow
    )


def test_legal_staff_record_a_verdict_and_it_is_audited(
    client: Any, bob: Any, evidence: Any
) -> None:
    run = _done_run(evidence, _version())
    client.force_login(bob)
    response = _review(client, evidence, verdict="confirmed_fake", note="swapped face", run=run.pk)
    assert response.status_code == 302
    review = DetectionReview.objects.get()
    assert (review.verdict, review.reviewer, review.note, review.run) == (
        "confirmed_fake",
        bob,
        "swapped face",
        run,
    )
    event = AuditEvent.objects.get(action="detection.reviewed")
    assert event.agency_id == evidence.agency_id and event.actor == bob
    assert event.data["verdict"] == "confirmed_fake" and event.data["item_probability"] == 0.8734
    assert event.data["detector"] == "effnet 2026.11"


def test_the_latest_review_is_the_verdict(client: Any, alice: Any, bob: Any, evidence: Any) -> None:
    client.force_login(bob)
    _review(client, evidence, verdict="confirmed_fake")
    client.force_login(alice)
    _review(client, evidence, verdict="not_fake", note="official photo")
    page = client.get(reverse("evidence_detection", args=[evidence.pk])).content.decode()
    assert 'data-verdict="not_fake"' in page and "alice" in page
    assert "Earlier reviews" in page  # the earlier verdict stays visible as history
    assert DetectionReview.objects.count() == 2


def test_a_review_is_append_only(evidence: Any, bob: Any) -> None:
    from detection.services.reviews import detection_review_record

    review = detection_review_record(evidence=evidence, verdict=ReviewVerdict.UNSURE, actor=bob)
    review.verdict = ReviewVerdict.NOT_FAKE
    with pytest.raises(RuntimeError):
        review.save()
    with pytest.raises(RuntimeError):
        review.delete()


def test_a_viewer_reads_the_verdict_but_cannot_review_or_rerun(
    client: Any, bob: Any, carol: Any, evidence: Any
) -> None:
    client.force_login(bob)
    _review(client, evidence, verdict="confirmed_fake")
    client.force_login(carol)
    page = client.get(reverse("evidence_detection", args=[evidence.pk])).content.decode()
    assert 'data-verdict="confirmed_fake"' in page
    assert "data-detection-review-form" not in page and "data-detection-rerun-form" not in page
    assert _review(client, evidence, verdict="not_fake").status_code == 403
    rerun = client.post(reverse("evidence_detection_rerun", args=[evidence.pk]))
    assert rerun.status_code == 403
    assert DetectionReview.objects.count() == 1


def test_a_bad_verdict_is_refused_with_a_message(client: Any, bob: Any, evidence: Any) -> None:
    client.force_login(bob)
    response = _review(client, evidence, verdict="probably", follow=True)
    assert not DetectionReview.objects.exists()
    assert "Choose confirmed fake, not fake or unsure." in response.content.decode()


def test_a_run_of_another_item_is_not_attached_to_the_review(
    client: Any, agency: Any, bob: Any, evidence: Any
) -> None:
    other = ingest(agency, png_of(textured_rgb(seed=11)), actor=bob)
    foreign_run = _done_run(other, _version())
    client.force_login(bob)
    _review(client, evidence, verdict="unsure", run=foreign_run.pk)
    assert DetectionReview.objects.get().run is None


def test_a_score_is_shown_as_a_calibrated_probability_with_the_model_auc(
    client: Any, carol: Any, evidence: Any
) -> None:
    _done_run(evidence, _version())
    client.force_login(carol)
    page = client.get(reverse("evidence_detection", args=[evidence.pk])).content.decode()
    assert (
        "calibrated probability 0.87 (model AUC 0.91, 95% CI 0.88-0.94, on 412 held-out items)"
        in page
    )
    assert "not a verdict" in page
    assert "ab" * 32 in page  # the checkpoint hash that produced it
    assert f'href="{reverse("detector_detail", args=[run_version_pk(evidence)])}"' in page


def test_a_score_of_an_unmeasured_model_says_so(client: Any, carol: Any, evidence: Any) -> None:
    _done_run(evidence, _version(auc=None))
    client.force_login(carol)
    page = client.get(reverse("evidence_detection", args=[evidence.pk])).content.decode()
    assert "raw model score 0.87, not a probability (model accuracy not measured)" in page
    assert "calibrated probability" not in page
    assert "Not measured on held-out data" in page


def test_provenance_signals_are_shown_with_what_they_mean(
    client: Any, carol: Any, evidence: Any
) -> None:
    from detection.provenance import provenance_signals
    from tests.detection.detection_samples import c2pa_signed_jpeg

    data, _ = c2pa_signed_jpeg()
    DetectionRun.objects.create(
        agency=evidence.agency,
        evidence=evidence,
        status=DetectionStatus.NO_DETECTOR,
        message="no trained detector installed",
        provenance=[s.to_dict() for s in provenance_signals(data, "image/jpeg")],
        progress=100,
    )
    client.force_login(carol)
    page = client.get(reverse("evidence_detection", args=[evidence.pk])).content.decode()
    assert 'data-signal-kind="c2pa"' in page and 'data-signal-strength="strong"' in page
    assert "declares an AI/algorithmic source: trainedAlgorithmicMedia" in page
    assert "Content Credentials (C2PA)" in page  # what a C2PA signal means
    assert "No trained detector installed" in page


def test_the_panel_speaks_korean(client: Any, carol: Any, evidence: Any) -> None:
    _done_run(evidence, _version())
    client.force_login(carol)
    client.post(reverse("set_language"), {"language": "ko", "next": "/"})
    page = client.get(reverse("evidence_detection", args=[evidence.pk])).content.decode()
    assert "판정" in page  # "verdict"
    assert "AUC 0.91" in page


def test_a_pending_run_is_polled_and_shows_progress(client: Any, carol: Any, evidence: Any) -> None:
    DetectionRun.objects.create(
        agency=evidence.agency,
        evidence=evidence,
        status=DetectionStatus.RUNNING,
        progress=35,
        step="loading the detector",
    )
    client.force_login(carol)
    page = client.get(reverse("evidence_detection", args=[evidence.pk])).content.decode()
    assert (
        'hx-trigger="every 2s"' in page and 'value="35"' in page and "Loading the detector" in page
    )


def test_detector_page_lists_versions_with_their_model_cards(
    client: Any, carol: Any, evidence: Any
) -> None:
    _version()
    legacy = detector_version(
        key="meso4", version="legacy", architecture="meso4", sha="cd" * 32, card={}, legacy=True
    )
    _done_run(evidence, legacy)  # a legacy model that scored this agency's evidence
    client.force_login(carol)
    page = client.get(reverse("detector_list")).content.decode()
    assert "effnet" in page and "AUC 0.910" in page and "on 412 held-out items" in page
    assert "meso4" in page and "not measured" in page
    assert "data-rerun-all-form" not in page  # admins only


def test_detector_page_without_any_detector_says_so(client: Any, carol: Any) -> None:
    client.force_login(carol)
    page = client.get(reverse("detector_list")).content.decode()
    assert "No trained detector installed" in page


def test_only_admins_rerun_everything(
    client: Any, alice: Any, bob: Any, evidence: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client.force_login(bob)
    assert client.post(reverse("detection_rerun_all")).status_code == 403
    before = DetectionRun.objects.count()
    client.force_login(alice)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("detection_rerun_all"), follow=True)
    assert DetectionRun.objects.count() == before + 1
    assert "Detection queued for 1 item." in response.content.decode()


def test_legal_staff_rerun_one_item(
    client: Any, bob: Any, evidence: Any, django_capture_on_commit_callbacks: Any
) -> None:
    client.force_login(bob)
    before = DetectionRun.objects.filter(evidence=evidence).count()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("evidence_detection_rerun", args=[evidence.pk]), HTTP_HX_REQUEST="true"
        )
    assert response.status_code == 200
    assert "data-detection-panel" in response.content.decode()
    assert DetectionRun.objects.filter(evidence=evidence).count() == before + 1


def test_checks_that_could_not_run_are_named_not_passed_off_as_no_signal(
    client: Any, carol: Any, evidence: Any
) -> None:
    DetectionRun.objects.create(
        agency=evidence.agency,
        evidence=evidence,
        status=DetectionStatus.NO_DETECTOR,
        message="no trained detector installed",
        details={"provenance_unavailable": [{"kind": "c2pa", "package": "c2pa-python"}]},
        progress=100,
    )
    client.force_login(carol)
    page = client.get(reverse("evidence_detection", args=[evidence.pk])).content.decode()
    assert "Not checked on this server" in page and "C2PA manifest (c2pa-python)" in page


def run_version_pk(evidence: Any) -> int:
    return DetectionRun.objects.filter(evidence=evidence).latest("id").detector_version_id
