"""The dossier's notices chapter: the notices of the case's findings, and no others."""

from __future__ import annotations

from datetime import UTC, datetime

from cases.agency.models import Platform
from cases.legal.services.legal_cases import case_create
from cases.notices.models import LegalBasis, Notice, NoticeStatus
from cases.notices.services.drafts import notice_create
from reports.context import dossier_context_build
from tests.factories import make_finding


def test_the_dossier_lists_the_notices_of_its_findings_and_no_others(agency, bob):
    Platform.objects.create(
        agency=agency, name="Suspect Host", domains=["site.test"], abuse_email="abuse@site.test"
    )
    ours = make_finding(agency, "http://site.test/ours", actor=bob)
    elsewhere = make_finding(agency, "http://site.test/elsewhere", actor=bob)
    case = case_create(agency=agency, actor=bob, title="Starlight", findings=[ours])
    draft = notice_create(
        agency=agency, actor=bob, findings=[ours], legal_basis=LegalBasis.EU_DSA_16
    )
    sent = notice_create(
        agency=agency, actor=bob, findings=[ours, elsewhere], legal_basis=LegalBasis.DMCA_512C3
    )
    Notice.objects.filter(pk=sent.pk).update(
        status=NoticeStatus.SENT, sent_at=datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC),
        rendered_sha256="a" * 64,
    )  # fmt: skip
    notice_create(agency=agency, actor=bob, findings=[elsewhere], legal_basis=LegalBasis.KCSC)

    rows = dossier_context_build(case).notices

    assert [(r.reference, r.platform, r.basis, r.status, r.sent) for r in rows] == [
        (f"#{draft.pk}", "Suspect Host", "EU DSA Art. 16", "Draft", ""),
        # The agency's time with its label, UTC beside it (docs/decisions.md "Times").
        (
            f"#{sent.pk}",
            "Suspect Host",
            "US DMCA § 512(c)(3)",
            "Sent",
            "2025-03-04 14:06:07 KST (2025-03-04 05:06:07 UTC)",
        ),
    ]
