"""Honest detection statements (issue 9): a number is called a calibrated probability only
with a calibration fitted on held-out data; legacy and gate-failing models never headline,
never rank the triage queue, and their caveats, small-sample warning and model card go with
every number they show, on screen, in the dossier, in the packet manifest and in the API.

The first tests reproduce the findings with today's interfaces (import_meso4, the evidence
page, the triage queue, the dossier); the others build the contrary cases."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse
from rest_framework.test import APIClient

from cases.evidence.models import Evidence
from detection.models import DetectionRun, DetectionStatus, DetectorVersion
from tests.data_path import data_file
from tests.detection import workflow_fixtures
from tests.detection.detection_samples import png_of, textured_rgb
from tests.detection.factories import detector_version, passing_card_fields
from tests.detection.workflow_fixtures import ingest, latest_run

pytestmark = pytest.mark.django_db

detection_urls = workflow_fixtures.detection_urls


def _run(evidence: Any, version: DetectorVersion, score: float, **fields: Any) -> DetectionRun:
    """A finished run of `version` on `evidence`, as the worker stores one."""
    return DetectionRun.objects.create(
        agency=evidence.agency,
        evidence=evidence,
        detector_version=version,
        status=DetectionStatus.DONE,
        item_probability=score,
        checkpoint_sha256=version.checkpoint_sha256,
        faces=[{"frame_index": 0, "bbox": [1, 2, 30, 40], "det_score": 0.99, "probability": score}],
        progress=100,
        **fields,
    )


def _page(client: Any, user: Any, evidence: Any) -> str:
    client.force_login(user)
    return client.get(reverse("evidence_detail", args=[evidence.pk])).content.decode()


@pytest.fixture
def image(agency: Any, finding: Any, bob: Any, django_capture_on_commit_callbacks: Any) -> Evidence:
    with django_capture_on_commit_callbacks(execute=True):
        return ingest(agency, png_of(textured_rgb(seed=5)), actor=bob, finding=finding)


@pytest.fixture
def meso4_version(meso4_card: Path) -> DetectorVersion:
    """Meso-4 registered the way import_meso4 registers it."""
    from detection.services.detectors import detector_register

    return detector_register(card_path=meso4_card)


# ---------------------------------------------------------------- the findings, reproduced


def test_importing_meso4_leaves_no_trained_detector_as_the_headline(
    client: Any,
    agency: Any,
    finding: Any,
    bob: Any,
    meso4_h5: Path,
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    err = StringIO()
    call_command(
        "import_meso4", str(meso4_h5), "--out", str(tmp_path / "m"), stdout=StringIO(), stderr=err
    )
    face = data_file("faces", "real", "obama.jpg").read_bytes()
    with django_capture_on_commit_callbacks(execute=True):
        evidence = ingest(agency, face, actor=bob, finding=finding)
    run = latest_run(evidence)
    assert run.status == DetectionStatus.NO_DETECTOR and run.item_probability is None
    page = _page(client, bob, evidence)
    assert "No trained detector installed" in page
    assert "calibrated probability" not in page and "data-detection-score" not in page
    assert not DetectorVersion.objects.filter(active=True).exists()
    assert "not activated: it is a legacy model" in err.getvalue()


def test_a_legacy_models_number_is_a_raw_score_with_its_caveats_and_never_the_headline(
    client: Any, carol: Any, image: Evidence, meso4_version: DetectorVersion
) -> None:
    _run(image, meso4_version, 0.97)
    page = _page(client, carol, image)
    assert "calibrated probability" not in page
    assert "raw model score 0.97, not a probability (model accuracy not measured)" in page
    assert 'data-score-kind="raw_model_score"' in page
    # The headline stays "no trained detector installed", and the number is not it.
    assert 'data-detection-headline="none"' in page and "No trained detector installed" in page
    assert 'data-detection-headline="score"' not in page
    # Its caveats, its small-sample warning and its card stand next to the number.
    assert "Legacy baseline model" in page and "worse than chance" in page
    assert "Not measured on held-out data" in page
    assert "misses most StyleGAN and diffusion images" in page  # the card's known limits
    assert f'href="{reverse("detector_detail", args=[meso4_version.pk])}"' in page
    assert "Raw model score of fake (not a probability)" in page  # the per-face column


def test_legacy_scores_never_sort_the_triage_queue(
    client: Any, agency: Any, bob: Any, meso4_version: DetectorVersion
) -> None:
    from tests.factories import make_finding

    scored = make_finding(agency, "https://example.com/v/legacy-scored", actor=bob)
    unscored = make_finding(agency, "https://example.com/v/unscored", actor=bob)
    evidence = ingest(agency, png_of(textured_rgb(seed=8)), finding=scored)
    _run(evidence, meso4_version, 0.99)
    client.force_login(bob)
    page = client.get(reverse("finding_list"), {"sort": "score"}).content.decode()
    # Neither is ranked: newest first, so the legacy 0.99 does not lift its finding.
    assert page.index(f'data-finding-id="{unscored.pk}"') < page.index(
        f'data-finding-id="{scored.pk}"'
    )


def test_the_dossier_and_manifest_call_a_legacy_number_a_raw_score_with_its_caveats(
    agency: Any,
    bob: Any,
    artist: Any,
    meso4_version: DetectorVersion,
    tmp_path: Path,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from tests.reports.builders import build_case
    from tests.reports.test_dossier import build, pdf_text, unpack

    case = build_case(agency=agency, actor=bob, artists=[artist], items=3)
    evidence = Evidence.objects.filter(finding__cases=case, media_type="image/png").first()
    _run(evidence, meso4_version, 0.971)
    dossier = build(case, bob, "packet", django_capture_on_commit_callbacks)
    text = pdf_text(dossier)
    assert "Calibrated probability" not in text and "calibrated probability" not in text
    assert "Raw model score of fake (not a probability)" in text and "0.971" in text
    assert "No trained detector installed" in text
    assert "Legacy baseline model" in text and "Not measured on held-out data" in text
    manifest = json.loads((unpack(dossier, tmp_path) / "manifest.json").read_text())
    (detection,) = [i["detection"] for i in manifest["items"] if i["sha256"] == evidence.sha256]
    assert detection["calibrated_probability_fake"] is None
    assert detection["raw_model_score_fake"] == 0.971
    assert detection["score_kind"] == "raw_model_score" and detection["headline_score"] is False
    assert detection["legacy_model"] is True and detection["quality_gates_passed"] is False
    assert any("Legacy baseline model" in c for c in detection["caveats"])
    assert "Not measured" in detection["small_sample_warning"]
    assert detection["model_card_url"].endswith(reverse("detector_detail", args=[meso4_version.pk]))


# ---------------------------------------------------------------- contrary cases


def test_a_fitted_calibration_of_a_gate_passing_model_is_the_calibrated_headline(
    client: Any, carol: Any, image: Evidence
) -> None:
    version = detector_version()
    assert version.active and version.gates_passed and version.calibrated
    _run(image, version, 0.8734, score_calibrated=True)
    page = _page(client, carol, image)
    assert (
        'data-detection-headline="score"' in page
        and 'data-score-kind="calibrated_probability"' in page
    )
    assert (
        "calibrated probability 0.87 (model AUC 0.91, 95% CI 0.88-0.94, on 412 held-out items)"
        in page
    )
    assert 'data-detection-headline="none"' not in page and "data-no-detector" not in page
    assert f'href="{reverse("detector_detail", args=[version.pk])}"' in page
    assert "Raw model score" not in page


def test_a_platt_calibration_not_fitted_on_held_out_data_is_not_called_calibrated(
    client: Any, carol: Any, image: Evidence
) -> None:
    card = passing_card_fields()
    del card["calibration"]["fitted_on"]  # Platt numbers from nowhere
    version = detector_version(card=card)
    assert not version.calibrated and not version.gates_passed and not version.active
    assert version.gate_failures == ["calibration_slope"]
    _run(image, version, 0.61)
    page = _page(client, carol, image)
    assert "calibrated probability" not in page
    assert "raw model score 0.61, not a probability" in page
    assert "no calibration was fitted on held-out data" in page


def test_a_small_held_out_set_fails_its_gate_and_every_score_shows_the_warning(
    client: Any, carol: Any, image: Evidence
) -> None:
    card = passing_card_fields()
    card["metrics"].update(
        auc=1.0, auc_ci=[1.0, 1.0], n_eval=9, n_fake=4, n_real=5, warning="only 9 held-out images"
    )
    card["calibration"]["n_fit"] = 9
    version = detector_version(card=card)
    assert version.gate_failures == ["held_out_per_class"] and not version.active
    warning = "Only 9 held-out items (4 fake, 5 real; the gate asks for at least 50 of each)"
    _run(image, version, 0.93, score_calibrated=True)
    page = _page(client, carol, image)
    assert warning in page and 'data-detection-headline="none"' in page
    card_page = client.get(reverse("detector_detail", args=[version.pk])).content.decode()
    assert warning in card_page
    assert 'data-gate="held_out_per_class" data-gate-passed="false"' in card_page
    assert 'data-gate="auc_ci_lower" data-gate-passed="true"' in card_page
    body = APIClient()
    body.force_authenticate(carol)
    data = body.get(reverse("api:detector-detail", args=[version.pk])).json()
    assert data["small_sample_warning"].startswith("Only 9 held-out items (4 fake, 5 real")
    gate = next(g for g in data["gates"] if g["name"] == "held_out_per_class")
    assert gate == {
        "name": "held_out_per_class",
        "value": 4.0,
        "threshold": ">= 50",
        "passed": False,
        "detail": "4 fake and 5 real held-out items",
    }


def test_the_model_card_page_shows_gates_calibration_and_caveats(
    client: Any, carol: Any, image: Evidence, meso4_version: DetectorVersion
) -> None:
    _run(image, meso4_version, 0.5)
    client.force_login(carol)
    page = client.get(reverse("detector_detail", args=[meso4_version.pk])).content.decode()
    assert 'data-calibration-status="raw"' in page and "raw model scores, not probabilities" in page
    assert "data-legacy-badge" in page and "data-gates-failed" in page
    for gate in ("held_out_per_class", "auc_ci_lower", "score_spread", "calibration_slope"):
        assert f'data-gate="{gate}" data-gate-passed="false"' in page


def test_an_outsider_gets_404_for_a_model_card_only_another_agency_used(
    client: Any, mallory: Any, carol: Any, image: Evidence, meso4_version: DetectorVersion
) -> None:
    _run(image, meso4_version, 0.5)
    client.force_login(mallory)
    assert client.get(reverse("detector_detail", args=[meso4_version.pk])).status_code == 404
    assert "meso4" not in client.get(reverse("detector_list")).content.decode()
    api = APIClient()
    api.force_authenticate(mallory)
    assert api.get(reverse("api:detector-detail", args=[meso4_version.pk])).status_code == 404
    assert api.get(reverse("api:evidence-detections", args=[image.pk])).status_code == 404
    client.force_login(carol)
    assert client.get(reverse("detector_detail", args=[meso4_version.pk])).status_code == 200


# ---------------------------------------------------------------- the API


def test_the_api_gives_runs_with_their_kind_headline_caveats_and_card(
    carol: Any, image: Evidence, meso4_version: DetectorVersion
) -> None:
    api = APIClient()
    api.force_authenticate(carol)
    legacy_run = _run(image, meso4_version, 0.97)
    data = api.get(reverse("api:evidence-detections", args=[image.pk])).json()
    assert data["evidence"] == image.pk and data["no_trained_detector"] is True
    assert data["headline"] is None
    latest = data["runs"][0]
    assert latest["id"] == legacy_run.pk
    assert latest["score"] == 0.97 and latest["score_kind"] == "raw_model_score"
    assert latest["calibrated_probability_fake"] is None and latest["raw_model_score_fake"] == 0.97
    assert latest["headline"] is False
    assert any("Legacy baseline model" in c for c in latest["caveats"])
    assert latest["small_sample_warning"].startswith("Not measured on held-out data")
    assert latest["detector"]["legacy"] is True
    assert latest["detector"]["card"].endswith(
        reverse("api:detector-detail", args=[meso4_version.pk])
    )
    assert data["runs"][1]["status"] == "no_detector" and data["runs"][1]["score"] is None

    version = detector_version(key="effnet-api", sha="ef" * 32)
    good = _run(image, version, 0.8734, score_calibrated=True)
    data = api.get(reverse("api:evidence-detections", args=[image.pk])).json()
    assert data["no_trained_detector"] is False
    assert data["headline"]["id"] == good.pk and data["headline"]["headline"] is True
    assert data["headline"]["score_kind"] == "calibrated_probability"
    assert data["headline"]["calibrated_probability_fake"] == 0.8734
    assert data["headline"]["raw_model_score_fake"] is None

    card = api.get(reverse("api:detector-detail", args=[version.pk])).json()
    assert card["calibrated"] is True and card["gates_passed"] is True and card["active"] is True
    assert card["headline_eligible"] is True and card["legacy"] is False
    assert [g["name"] for g in card["gates"]] == [
        "held_out_per_class",
        "auc_ci_lower",
        "score_spread",
        "calibration_slope",
    ]
    assert all(g["passed"] for g in card["gates"]) and card["small_sample_warning"] == ""
    listed = api.get(reverse("api:detector-list")).json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    assert {row["id"] for row in rows} == {version.pk, meso4_version.pk}


def test_a_viewer_cannot_write_to_the_detection_api(carol: Any, image: Evidence) -> None:
    api = APIClient()
    api.force_authenticate(carol)
    url = reverse("api:evidence-detections", args=[image.pk])
    assert api.post(url, {}).status_code in (403, 405)
    assert api.get(url).status_code == 200
