"""Pages show what happened in words: no audit code (`notice.created`), no machine text
(`kind=upload finding=45 blob=new`), times with their zone (cases.kernel.audit.labels,
cases.templatetags.labels)."""

from __future__ import annotations

import re

import pytest
from django.utils import translation

from cases.evidence.models import CustodyEvent, EvidenceKind
from cases.evidence.services.evidence import evidence_ingest
from cases.kernel.audit.labels import action_label
from cases.kernel.models import AuditEvent
from cases.legal.services.legal_cases import case_create
from cases.notices.services.sending import notice_send

TAG = re.compile(r"<[^>]*>")
CODE = re.compile(r"\b[a-z_]+\.[a-z_]+\b")


def _text(html: str) -> str:
    """What a reader sees: the page without its tags (attributes may keep codes for scripts)."""
    return TAG.sub(" ", html)


def _codes_shown(page: str, actions: set[str]) -> set[str]:
    return {code for code in CODE.findall(_text(page)) if code in actions}


@pytest.fixture
def sent(make_notice, bob):  # type: ignore[no-untyped-def]
    return notice_send(notice=make_notice("dmca_512c3", "en", channel="web_form"), actor=None)


@pytest.mark.parametrize("language", ["en", "ko"])
def test_notice_case_and_finding_pages_show_labels_not_codes(  # type: ignore[no-untyped-def]
    client, agency, bob, sent, hosted_finding, language
) -> None:
    case = case_create(agency=agency, actor=bob, title="Leak", findings=[hosted_finding])
    actions = set(AuditEvent.objects.filter(agency=agency).values_list("action", flat=True))
    assert {"notice.created", "case.created", "finding.recorded"} <= actions
    client.force_login(bob)
    pages = {
        "notice": client.get(f"/notices/{sent.pk}/", HTTP_ACCEPT_LANGUAGE=language),
        "case": client.get(f"/cases/{case.pk}/", HTTP_ACCEPT_LANGUAGE=language),
        "finding": client.get(f"/findings/{hosted_finding.pk}/", HTTP_ACCEPT_LANGUAGE=language),
    }
    for name, response in pages.items():
        assert response.status_code == 200, name
        page = response.content.decode()
        assert _codes_shown(page, actions) == set(), name
    with translation.override(language):
        assert action_label("notice.created") in pages["notice"].content.decode()


def test_the_check_would_see_a_raw_code() -> None:
    # The contrary case: a code in the text is found, one only in an attribute is not.
    assert _codes_shown("<li>notice.created Bob</li>", {"notice.created"}) == {"notice.created"}
    assert (
        _codes_shown('<li data-action="notice.created">Notice drafted</li>', {"notice.created"})
        == set()
    )


def test_the_custody_log_reads_as_sentences(client, agency, bob, hosted_finding) -> None:  # type: ignore[no-untyped-def]
    evidence, _ = evidence_ingest(
        agency=agency,
        data=b"a screenshot",
        kind=EvidenceKind.UPLOAD,
        finding=hosted_finding,
        collected_by=bob,
    )
    reason = CustodyEvent.objects.get(evidence=evidence).reason
    assert reason == f"kind=upload finding={hosted_finding.pk} blob=new"  # stored as it was
    client.force_login(bob)
    page = client.get(f"/evidence/{evidence.pk}/").content.decode()
    assert "blob=" not in page and "kind=upload" not in page
    assert f"for finding #{hosted_finding.pk}. The file was stored for the first time." in page
    page = client.get(f"/evidence/{evidence.pk}/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    assert "파일을 처음으로 저장했습니다." in page
