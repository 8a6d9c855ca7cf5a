"""Dossiers and evidence packets: content, verifiability, rendering to images."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import zipfile
from pathlib import Path

from django.core.files.storage import default_storage
from PIL import Image
from pypdf import PdfReader

from cases.evidence.models import CustodyAction, CustodyEvent, Evidence
from reports.models import Dossier, DossierStatus
from reports.services import dossier_request
from tests.conftest import require_service
from tests.reports.builders import KOREAN_CASE_TITLE, KOREAN_NAME


def build(case, actor, kind, capture, **kwargs):  # type: ignore[no-untyped-def]
    with capture(execute=True):
        dossier = dossier_request(case=case, kind=kind, actor=actor, **kwargs)
    dossier.refresh_from_db()
    assert dossier.status == DossierStatus.DONE, dossier.error
    return dossier


def pdf_text(dossier: Dossier) -> str:
    with default_storage.open(dossier.pdf_name, "rb") as handle:
        reader = PdfReader(io.BytesIO(handle.read()))
    text = "\n".join(page.extract_text() for page in reader.pages)
    # Lines wrap anywhere in a PDF; compare with runs of whitespace made one space.
    return text + "\n" + " ".join(text.split())


def unpack(dossier: Dossier, target: Path) -> Path:
    with default_storage.open(dossier.zip_name, "rb") as handle, zipfile.ZipFile(handle) as zf:
        zf.extractall(target)
    return target


def sha256sum_check(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sha256sum", "--strict", "-c", "SHA256SUMS"],
        cwd=folder,
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_60_item_case_gives_a_dossier_and_a_packet_that_sha256sum_verifies(
    big_case, bob, tmp_path, django_capture_on_commit_callbacks
) -> None:
    require_service(shutil.which("sha256sum") is not None, "sha256sum (coreutils) not found")
    dossier = build(big_case, bob, "packet", django_capture_on_commit_callbacks)
    hashes = list(Evidence.objects.filter(finding__cases=big_case).values_list("sha256", flat=True))
    assert len(hashes) == 60
    assert sorted(dossier.evidence_hashes) == sorted(hashes)

    text = pdf_text(dossier)
    flat = "".join(text.split())
    missing = [sha for sha in hashes if sha not in text and sha not in flat]
    assert not missing, f"{len(missing)} hashes not in the PDF text"
    assert KOREAN_NAME in text and KOREAN_CASE_TITLE in text
    assert "김변호사" in text  # counsel, Hangul
    assert dossier.identifier in text

    folder = unpack(dossier, tmp_path / "packet")
    result = sha256sum_check(folder)
    assert result.returncode == 0, result.stdout + result.stderr
    plain = subprocess.run(
        ["sha256sum", "-c", "SHA256SUMS"], cwd=folder, capture_output=True, text=True, check=False
    )
    assert plain.returncode == 0
    listed = [line.split("  ", 1)[1] for line in (folder / "SHA256SUMS").read_text().splitlines()]
    on_disk = sorted(str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file())
    assert sorted([*listed, "SHA256SUMS"]) == on_disk
    for sha in hashes:
        assert any(path.startswith(f"evidence/{sha}.") for path in listed)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert len(manifest["items"]) == 60
    assert {item["sha256"] for item in manifest["items"]} == set(hashes)
    assert manifest["timestamp"].startswith("not timestamped")
    assert all(item["custody"] for item in manifest["items"])
    assert "NOT timestamped" in (folder / "README.txt").read_text()

    # One changed byte in any file, SHA256SUMS included, fails the check.
    for relative in on_disk:
        copy = tmp_path / "tampered"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(folder, copy)
        path = copy / relative
        data = bytearray(path.read_bytes())
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
        assert sha256sum_check(copy).returncode != 0, (
            f"flipping a byte of {relative} went unnoticed"
        )


def test_export_is_logged_in_every_items_custody(
    small_case, bob, django_capture_on_commit_callbacks
) -> None:
    dossier = build(small_case, bob, "dossier", django_capture_on_commit_callbacks)
    exported = CustodyEvent.objects.filter(action=CustodyAction.EXPORTED, actor=bob)
    assert sorted(exported.values_list("evidence__sha256", flat=True)) == sorted(
        dossier.evidence_hashes
    )
    assert all(dossier.identifier in event.reason for event in exported)
    assert not dossier.zip_name  # a plain dossier has no packet


def test_the_pdf_renders_to_png_pages_with_pdftoppm(
    small_case, bob, tmp_path, django_capture_on_commit_callbacks
) -> None:
    require_service(shutil.which("pdftoppm") is not None, "pdftoppm (poppler-utils) not found")
    dossier = build(small_case, bob, "dossier", django_capture_on_commit_callbacks)
    pdf = tmp_path / "dossier.pdf"
    with default_storage.open(dossier.pdf_name, "rb") as handle:
        pdf.write_bytes(handle.read())
    pages = len(PdfReader(str(pdf)).pages)
    subprocess.run(
        ["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "page")], check=True, timeout=120
    )
    images = sorted(tmp_path.glob("page-*.png"))
    assert len(images) == pages >= 4
    for path in images:
        with Image.open(path) as image:
            assert image.width > 200
            # Not a blank page: some dark pixels (text) on every page.
            assert image.convert("L").getextrema()[0] < 100


def test_no_trained_detector_is_said_and_never_a_number(
    small_case, bob, django_capture_on_commit_callbacks
) -> None:
    from detection.models import DetectionRun, DetectionStatus

    evidence = Evidence.objects.filter(finding__cases=small_case, media_type="image/png").first()
    DetectionRun.objects.create(
        agency=evidence.agency, evidence=evidence, status=DetectionStatus.NO_DETECTOR
    )
    text = pdf_text(build(small_case, bob, "dossier", django_capture_on_commit_callbacks))
    assert "No trained detector installed" in text
    assert "Calibrated probability" not in text


def test_a_detector_score_comes_with_its_model_card_and_auc(
    small_case, bob, django_capture_on_commit_callbacks
) -> None:
    from detection.models import DetectionRun, DetectionStatus
    from tests.detection.factories import detector_version, passing_card_fields

    card = passing_card_fields(n_per_class=2000, auc=0.913)
    version = detector_version(
        key="effnet-deepfake",
        version="3",
        architecture="efficientnet_b0",
        card={**card, "licence": "Apache-2.0"},
    )
    evidence = Evidence.objects.filter(finding__cases=small_case, media_type="image/png").first()
    DetectionRun.objects.create(
        agency=evidence.agency,
        evidence=evidence,
        detector_version=version,
        status=DetectionStatus.DONE,
        item_probability=0.871,
        score_calibrated=True,
        checkpoint_sha256="ab" * 32,
    )
    text = pdf_text(build(small_case, bob, "dossier", django_capture_on_commit_callbacks))
    assert "0.871" in text and "0.913" in text and "effnet-deepfake 3" in text
    assert "Apache-2.0" in text
    # A calibration fitted on held-out data, gates passed: a calibrated probability.
    assert "Calibrated probability of fake" in text and "Raw model score" not in text


def test_the_completeness_check_flags_what_is_missing(
    small_case, bob, django_capture_on_commit_callbacks
) -> None:
    text = pdf_text(build(small_case, bob, "dossier", django_capture_on_commit_callbacks))
    # The second finding's third item is an upload without a capture record.
    assert "capture record (uploaded file)" in text
    assert "collector IP" in text  # the first capture has no collector IP
    assert "Berkeley Protocol" in text
