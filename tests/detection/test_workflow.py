"""Detection as it runs in the product: new image and video evidence queues a run on the
`detection` queue (eager here), the run records what produced each number, and every kind
of bad input or bad model ends in a status a person can read while the worker goes on."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse

from cases.evidence.models import CustodyEvent, EvidenceKind
from cases.kernel.models import AuditEvent
from detection.models import DetectionRun, DetectionStatus, DetectorVersion, ReviewVerdict
from detection.services.analysis import detection_run_execute
from detection.services.detectors import (
    DetectorRegistrationError,
    detector_active,
    detector_register,
)
from detection.services.reviews import detection_review_record
from detection.services.runs import DetectionError, detection_rerun_all, detection_run_request
from tests.detection import workflow_fixtures
from tests.detection.detection_samples import gradient_png, png_of, textured_rgb
from tests.detection.workflow_fixtures import ingest, latest_run, make_detector_card

pytestmark = pytest.mark.django_db

# Fixtures shared by the detection workflow tests (autouse ones apply to this module).
detection_urls = workflow_fixtures.detection_urls
face_jpeg = workflow_fixtures.face_jpeg


@pytest.fixture
def detector_card(tmp_path: Path) -> Path:
    return make_detector_card(tmp_path / "detectors")


@pytest.fixture
def detector(detector_card: Path) -> DetectorVersion:
    return detector_register(card_path=detector_card)


def test_new_image_evidence_is_analysed_without_a_number_when_no_detector_is_installed(
    agency: Any, finding: Any, bob: Any, face_jpeg: bytes, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        evidence = ingest(agency, face_jpeg, actor=bob, finding=finding)
    run = latest_run(evidence)
    assert run.status == DetectionStatus.NO_DETECTOR
    assert run.message.startswith("no trained detector installed")
    assert run.item_probability is None
    assert run.detector_version is None and run.checkpoint_sha256 == ""
    # Faces are still counted (useful to triage) but carry no score.
    assert run.faces and all(face["probability"] is None for face in run.faces)
    assert isinstance(run.provenance, list)
    assert run.progress == 100 and run.finished_at is not None
    assert AuditEvent.objects.filter(
        agency=agency, action="detection.finished", object_id=str(evidence.pk)
    ).exists()


def test_the_panel_says_no_trained_detector_and_shows_no_score(
    client: Any, agency: Any, finding: Any, bob: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        evidence = ingest(agency, gradient_png(), actor=bob, finding=finding)
    client.force_login(bob)
    page = client.get(reverse("evidence_detection", args=[evidence.pk])).content.decode()
    assert "No trained detector installed" in page
    assert "calibrated probability" not in page
    assert "No provenance signal found" in page and "absence proves nothing" in page


def test_with_a_registered_detector_the_run_records_faces_scores_device_timings_and_hash(
    agency: Any,
    finding: Any,
    bob: Any,
    face_jpeg: bytes,
    detector: DetectorVersion,
    django_capture_on_commit_callbacks: Any,
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        evidence = ingest(agency, face_jpeg, actor=bob, finding=finding)
    run = latest_run(evidence)
    assert run.status == DetectionStatus.DONE, run.message
    assert 0.0 <= run.item_probability <= 1.0
    assert run.detector_version == detector
    assert run.checkpoint_sha256 == detector.checkpoint_sha256
    assert len(run.faces) >= 1
    face = run.faces[0]
    assert len(face["bbox"]) == 4 and 0.0 <= face["probability"] <= 1.0
    assert run.device == "cpu"
    assert run.timings["total"] > 0 and "provenance" in run.timings and "run_total" in run.timings
    assert run.details["precision"] == "fp32"
    event = AuditEvent.objects.get(action="detection.finished", object_id=str(evidence.pk))
    assert event.data["checkpoint_sha256"] == detector.checkpoint_sha256
    assert event.data["detector"] == "meso4-test 1"


def test_a_video_is_analysed_and_other_files_are_refused(
    agency: Any, bob: Any, django_capture_on_commit_callbacks: Any
) -> None:
    av = pytest.importorskip("av", reason="PyAV (the detection extra) is not installed")
    import io

    import numpy as np

    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=8)
        stream.width, stream.height, stream.pix_fmt = 128, 96, "yuv420p"
        for index in range(16):
            frame = np.full((96, 128, 3), index * 10, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    with django_capture_on_commit_callbacks(execute=True):
        video = ingest(agency, out.getvalue(), actor=bob, name="clip.mp4")
    run = latest_run(video)
    assert video.media_type == "video/mp4"
    # No faces in a grey clip and no detector: the run says so, without a number.
    assert run.status == DetectionStatus.NO_DETECTOR
    assert run.frames_analyzed >= 1 and run.item_probability is None

    pdf = ingest(agency, b"%PDF-1.4\n%\xe2\xe3\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n", actor=bob)
    assert not DetectionRun.objects.filter(evidence=pdf).exists()
    with pytest.raises(DetectionError, match="images and videos only"):
        detection_run_request(evidence=pdf, actor=bob)


def test_page_screenshots_are_not_analysed_automatically(
    agency: Any, bob: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        shot = ingest(agency, png_of(textured_rgb((300, 300))), kind=EvidenceKind.SCREENSHOT)
    assert not DetectionRun.objects.filter(evidence=shot).exists()
    # ... but a person can ask for it.
    with django_capture_on_commit_callbacks(execute=True):
        run = detection_run_request(evidence=shot, actor=bob)
    run.refresh_from_db()
    assert run.status == DetectionStatus.NO_DETECTOR
    assert AuditEvent.objects.filter(action="detection.requested", object_id=str(shot.pk)).exists()


def test_a_corrupt_image_ends_in_a_clear_status_and_the_next_run_still_works(
    agency: Any,
    bob: Any,
    face_jpeg: bytes,
    detector: DetectorVersion,
    django_capture_on_commit_callbacks: Any,
) -> None:
    garbage = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(range(256)) * 8
    truncated = face_jpeg[: len(face_jpeg) // 3]
    with django_capture_on_commit_callbacks(execute=True):
        unreadable = ingest(agency, garbage, actor=bob, name="garbage.jpg")
        cut = ingest(agency, truncated, actor=bob, name="truncated.jpg")
        good = ingest(agency, face_jpeg, actor=bob, name="good.jpg")
    for run in (latest_run(unreadable), latest_run(cut)):
        assert run.status in (DetectionStatus.DECODE_ERROR, DetectionStatus.UNSUPPORTED)
        assert run.message and run.item_probability is None and run.progress == 100
    assert latest_run(cut).status == DetectionStatus.DECODE_ERROR
    assert latest_run(good).status == DetectionStatus.DONE


def test_a_checkpoint_with_the_wrong_hash_is_refused(
    agency: Any,
    bob: Any,
    face_jpeg: bytes,
    detector: DetectorVersion,
    django_capture_on_commit_callbacks: Any,
) -> None:
    checkpoint = Path(detector.checkpoint_path)
    checkpoint.write_bytes(checkpoint.read_bytes()[:-4] + b"\x00\x00\x00\x00")
    with django_capture_on_commit_callbacks(execute=True):
        evidence = ingest(agency, face_jpeg, actor=bob)
    run = latest_run(evidence)
    assert run.status == DetectionStatus.MODEL_ERROR
    assert "hash mismatch" in run.message
    assert run.item_probability is None
    assert run.provenance == [] or isinstance(run.provenance, list)


def test_a_model_that_returns_nan_ends_in_model_error(
    tmp_path: Path, agency: Any, bob: Any, face_jpeg: bytes, django_capture_on_commit_callbacks: Any
) -> None:
    detector_register(card_path=make_detector_card(tmp_path, version="nan", broken=True))
    with django_capture_on_commit_callbacks(execute=True):
        evidence = ingest(agency, face_jpeg, actor=bob)
    run = latest_run(evidence)
    assert run.status == DetectionStatus.MODEL_ERROR
    assert "NaN" in run.message
    assert run.item_probability is None


def test_an_exception_fails_the_run_with_its_message_and_the_worker_goes_on(
    agency: Any, bob: Any, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    import detection.pipeline

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("GPU fell off the bus")

    monkeypatch.setattr(detection.pipeline, "analyze", explode)
    with django_capture_on_commit_callbacks(execute=True):
        first = ingest(agency, gradient_png(), actor=bob)
    run = latest_run(first)
    assert run.status == DetectionStatus.FAILED
    assert "RuntimeError: GPU fell off the bus" in run.message
    monkeypatch.undo()
    with django_capture_on_commit_callbacks(execute=True):
        second = ingest(agency, png_of(textured_rgb()), actor=bob)
    assert latest_run(second).status == DetectionStatus.NO_DETECTOR


def test_a_finished_run_is_not_run_again(
    agency: Any, bob: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        evidence = ingest(agency, gradient_png(), actor=bob)
    run = latest_run(evidence)
    finished_at = run.finished_at
    events = AuditEvent.objects.filter(action="detection.finished").count()
    assert detection_run_execute(run_id=run.pk) is None  # a redelivered message
    run.refresh_from_db()
    assert run.finished_at == finished_at
    assert AuditEvent.objects.filter(action="detection.finished").count() == events


def test_registration_verifies_the_checkpoint_and_keeps_one_active_version(
    tmp_path: Path, detector_card: Path
) -> None:
    first = detector_register(card_path=detector_card)
    assert first.active and first.auc == 0.91 and first.n_eval == 120
    # The same card again: the same row, nothing duplicated.
    assert detector_register(card_path=detector_card).pk == first.pk
    second = detector_register(card_path=make_detector_card(tmp_path / "v2", version="2"))
    first.refresh_from_db()
    assert second.active and not first.active
    assert detector_active() == second
    # A checkpoint that no longer matches its card is not registered.
    card = make_detector_card(tmp_path / "v3", version="3")
    checkpoint = Path(json.loads(card.read_text())["checkpoint_path"])
    checkpoint = checkpoint if checkpoint.is_absolute() else card.parent / checkpoint
    checkpoint.write_bytes(checkpoint.read_bytes() + b"tampered")
    with pytest.raises(DetectorRegistrationError, match="refusing to register"):
        detector_register(card_path=card)
    assert not DetectorVersion.objects.filter(version="3").exists()


def test_register_detector_command_reports_the_hash_and_queues_reruns(
    agency: Any, bob: Any, detector_card: Path, django_capture_on_commit_callbacks: Any, capsys: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        ingest(agency, gradient_png(), actor=bob)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("register_detector", str(detector_card), "--rerun")
    out = capsys.readouterr().out
    version = DetectorVersion.objects.get()
    assert version.checkpoint_sha256 in out and "AUC 0.910" in out and "queued 1" in out
    assert DetectionRun.objects.filter(detector_version=version).count() == 1


def test_rerun_all_queues_one_run_per_image_and_video_in_one_go(
    agency: Any, other_agency: Any, alice: Any, bob: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        image = ingest(agency, gradient_png(), actor=bob)
        shot = ingest(agency, png_of(textured_rgb((300, 300))), kind=EvidenceKind.SCREENSHOT)
        ingest(agency, b"%PDF-1.4\n%%EOF\n", actor=bob)
        ingest(other_agency, png_of(textured_rgb((260, 260), seed=9)))
    before = DetectionRun.objects.filter(agency=agency).count()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        count = detection_rerun_all(agency=agency, actor=alice)
    assert count == 2  # the image and the screenshot: every image, not the PDF
    assert len(callbacks) == 1  # one after-commit callback sends them all
    runs = DetectionRun.objects.filter(agency=agency)
    assert runs.count() == before + 2
    assert {run.evidence_id for run in runs.order_by("-id")[:2]} == {image.pk, shot.pk}
    assert all(run.is_finished for run in runs)
    assert AuditEvent.objects.get(agency=agency, action="detection.rerun_all").data["runs"] == 2


def test_export_training_set_writes_reviewed_images_with_manifest_and_custody(
    tmp_path: Path, agency: Any, finding: Any, bob: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        fake = ingest(agency, png_of(textured_rgb(seed=1)), actor=bob, finding=finding)
        real = ingest(agency, png_of(textured_rgb(seed=2)), actor=bob, finding=finding)
        unsure = ingest(agency, png_of(textured_rgb(seed=3)), actor=bob, finding=finding)
    detection_review_record(evidence=fake, verdict=ReviewVerdict.NOT_FAKE, actor=bob)
    detection_review_record(evidence=fake, verdict=ReviewVerdict.CONFIRMED_FAKE, actor=bob)
    detection_review_record(evidence=real, verdict=ReviewVerdict.NOT_FAKE, actor=bob)
    detection_review_record(evidence=unsure, verdict=ReviewVerdict.UNSURE, actor=bob)
    out = tmp_path / "export"
    call_command("export_training_set", str(out), "--agency", agency.slug)
    assert sorted(p.name for p in (out / "fake").iterdir()) == [f"{fake.sha256}.png"]
    assert sorted(p.name for p in (out / "real").iterdir()) == [f"{real.sha256}.png"]
    rows = [json.loads(line) for line in (out / "manifest.jsonl").read_text().splitlines()]
    assert {(row["sha256"], row["verdict"], row["finding"]) for row in rows} == {
        (fake.sha256, "confirmed_fake", finding.pk),
        (real.sha256, "not_fake", finding.pk),
    }
    assert (out / "fake" / f"{fake.sha256}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    exported = CustodyEvent.objects.filter(action="exported")
    assert {event.evidence_id for event in exported} == {fake.pk, real.pk}
    assert AuditEvent.objects.filter(agency=agency, action="detection.training_exported").exists()


def test_triage_queue_sorts_by_detection_score(
    client: Any,
    agency: Any,
    bob: Any,
    detector: DetectorVersion,
    django_assert_max_num_queries: Any,
) -> None:
    from tests.factories import make_finding

    findings = [make_finding(agency, f"https://example.com/v/{n}", actor=bob) for n in range(4)]
    for finding, score in zip(findings[:3], (0.2, 0.9, 0.5), strict=True):
        evidence = ingest(agency, png_of(textured_rgb(seed=int(score * 10))), finding=finding)
        DetectionRun.objects.filter(evidence=evidence).delete()
        DetectionRun.objects.create(
            agency=agency,
            evidence=evidence,
            detector_version=detector,
            status=DetectionStatus.DONE,
            item_probability=score,
            score_calibrated=True,
            checkpoint_sha256=detector.checkpoint_sha256,
        )
    client.force_login(bob)
    # The queue's budget (tests/cases/test_views_findings.py): 13 on PostgreSQL.
    with django_assert_max_num_queries(13):
        response = client.get(reverse("finding_list"), {"sort": "score"})
    page = response.content.decode()
    order = [page.index(f'data-finding-id="{f.pk}"') for f in findings]
    # 0.9, 0.5, 0.2, then the unscored one.
    assert order[1] < order[2] < order[0] < order[3]
