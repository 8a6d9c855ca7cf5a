"""Matching fixtures: helpers to store an image as evidence of a finding and hash it."""

from __future__ import annotations

import pytest
from PIL import Image

from cases.evidence.models import Evidence, EvidenceKind
from cases.evidence.services.evidence import evidence_ingest
from cases.matching.services.fingerprints import evidence_compute_pdq
from cases.matching.services.index import matching_cache_clear
from tests.matching.images import jpeg_bytes


@pytest.fixture(autouse=True)
def _fresh_index_cache():  # type: ignore[no-untyped-def]
    matching_cache_clear()
    yield
    matching_cache_clear()


def store_image(
    agency,  # type: ignore[no-untyped-def]
    image: Image.Image | bytes,
    *,
    finding=None,
    actor=None,
    kind: str = EvidenceKind.UPLOAD,
    name: str = "copy.jpg",
    hashed: bool = True,
) -> Evidence:
    """Ingest an image as evidence (JPEG q92 unless bytes are given) and, as the PDQ task
    does after commit, hash and match it."""
    data = image if isinstance(image, bytes) else jpeg_bytes(image, 92)
    evidence, _created = evidence_ingest(
        agency=agency,
        data=data,
        kind=kind,
        collected_by=actor,
        finding=finding,
        original_name=name,
    )
    if hashed:
        evidence_compute_pdq(evidence=evidence)
        evidence.refresh_from_db()
    return evidence
