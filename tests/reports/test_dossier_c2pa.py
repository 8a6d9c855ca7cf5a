"""The dossier's evidence section states a C2PA manifest's validation failures with their
codes, and says "no manifest" only for a file the C2PA reader parsed and found none in."""

from __future__ import annotations

from cases.evidence.models import Evidence
from detection.models import DetectionRun, DetectionStatus
from detection.provenance import provenance_signals
from tests.detection.test_c2pa_wording import c_jpg, with_altered_pixels
from tests.reports.test_dossier import build, pdf_text


def _run_on_first_image(case, **fields):  # type: ignore[no-untyped-def]
    evidence = Evidence.objects.filter(finding__cases=case, media_type="image/png").first()
    return DetectionRun.objects.create(
        agency=evidence.agency, evidence=evidence, status=DetectionStatus.NO_DETECTOR, **fields
    )


def test_the_dossier_lists_c2pa_failure_codes_with_their_meaning(
    small_case, bob, django_capture_on_commit_callbacks
) -> None:
    signals = provenance_signals(with_altered_pixels(c_jpg()), "image/jpeg")
    _run_on_first_image(
        small_case,
        provenance=[s.to_dict() for s in signals],
        details={"provenance_unavailable": [], "c2pa_manifest_absent": False},
    )
    text = pdf_text(build(small_case, bob, "dossier", django_capture_on_commit_callbacks))
    assert "assertion.dataHash.mismatch (content altered after signing)" in text
    assert "altered after signing" in text
    assert "no manifest in this file" not in text


def test_the_dossier_says_no_manifest_when_the_reader_found_none(
    small_case, bob, django_capture_on_commit_callbacks
) -> None:
    _run_on_first_image(
        small_case,
        provenance=[],
        details={"provenance_unavailable": [], "c2pa_manifest_absent": True},
    )
    text = pdf_text(build(small_case, bob, "dossier", django_capture_on_commit_callbacks))
    assert "C2PA: no manifest in this file" in text
    assert "Validation failure codes" not in text
