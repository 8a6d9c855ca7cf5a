"""Fixtures of the notice tests: a platform that takes e-mail notices, Bob's complete
signer profile, findings on that platform, and a notice builder."""

from __future__ import annotations

from typing import Any

import pytest

from cases.agency.models import Platform
from cases.evidence.models import EvidenceKind
from cases.evidence.services.evidence import evidence_ingest
from cases.intake.services.findings import finding_set_status
from cases.matching.models import ReferenceMedia
from cases.notices.services.drafts import notice_create
from cases.notices.services.templates import signer_profile_save
from tests.factories import make_finding

SIGNER = {
    "full_name": "Kim Minji",
    "title": "Head of Legal",
    "organisation": "Aurora Entertainment Co., Ltd.",
    "postal_address": "12 Teheran-ro, Gangnam-gu, Seoul 06234",
    "phone": "+82 2 555 0100",
    "email": "legal@aurora.example",
    "signature_text": "/Kim Minji/",
}


@pytest.fixture
def host_platform(agency) -> Platform:  # type: ignore[no-untyped-def]
    return Platform.objects.create(
        agency=agency,
        name="Suspect Host",
        domains=["site.test"],
        abuse_email="abuse@site.test",
        trusted_flagger_email="flagger@site.test",
        channel=Platform.Channel.EMAIL,
    )


@pytest.fixture
def signer(agency, bob):  # type: ignore[no-untyped-def]
    return signer_profile_save(agency=agency, user=bob, **SIGNER)


@pytest.fixture
def hosted_finding(agency, bob, artist, host_platform):  # type: ignore[no-untyped-def]
    finding = make_finding(agency, "http://site.test/gone", actor=bob, artists=[artist])
    assert finding.platform_id == host_platform.pk
    return finding_set_status(finding=finding, status="captured", actor=bob)


@pytest.fixture
def reference(agency, alice, artist):  # type: ignore[no-untyped-def]
    evidence, _ = evidence_ingest(
        agency=agency, data=b"official concept photo bytes", kind=EvidenceKind.REFERENCE
    )
    return ReferenceMedia.objects.create(
        agency=agency,
        artist=artist,
        evidence=evidence,
        title="Official MV 'Starlight' (2024)",
        source_url="https://www.youtube.com/watch?v=official-starlight",
        created_by=alice,
    )


EXPLANATION = "A sexual deepfake of our artist, made from the official music video without consent."


@pytest.fixture
def make_notice(agency, bob, signer, hosted_finding, reference):  # type: ignore[no-untyped-def]
    """A notice with every field any basis requires; tests take away one at a time."""

    def build(basis: str, language: str = "en", **overrides: Any):  # type: ignore[no-untyped-def]
        fields: dict[str, Any] = {
            "agency": agency,
            "actor": bob,
            "findings": [hosted_finding],
            "legal_basis": basis,
            "language": language,
            "signer": signer,
            "explanation": EXPLANATION,
            "reference_media": [reference],
        }
        fields.update(overrides)
        return notice_create(**fields)

    return build
