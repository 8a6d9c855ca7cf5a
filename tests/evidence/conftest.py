"""Evidence fixtures: Bob (legal) has uploaded a detailed PNG to Aurora's finding."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings

from cases.evidence.models import Evidence, EvidenceKind
from cases.evidence.services.evidence import evidence_ingest
from tests.evidence.samples import png_bytes


def stored_files(root: Path | None = None) -> list[Path]:
    """Every file under the media root except ingest temporaries (there should be none)."""
    base = Path(root or settings.MEDIA_ROOT)
    return sorted(p for p in base.rglob("*") if p.is_file())


@pytest.fixture
def image_bytes() -> bytes:
    return png_bytes((640, 480), seed=7)


@pytest.fixture
def evidence(agency, finding, bob, image_bytes) -> Evidence:  # type: ignore[no-untyped-def]
    item, created = evidence_ingest(
        agency=agency,
        data=image_bytes,
        kind=EvidenceKind.UPLOAD,
        collected_by=bob,
        finding=finding,
        original_name="aurora-secret-photo.png",
    )
    assert created
    return item
