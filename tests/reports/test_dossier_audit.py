"""Every dossier export anchors the agency's audit chain head, and the verification appendix
prints that anchor; a chain that does not verify is said to, and is not anchored."""

from __future__ import annotations

from cases.kernel.audit.anchors import anchor_list
from cases.kernel.audit.keys import audit_current_key
from cases.kernel.models import AuditEvent
from reports.models import DossierStatus
from reports.services import dossier_request
from tests.audit_helpers import EVENTS, as_db_owner, sql
from tests.reports.test_dossier import build, pdf_text


def test_the_export_anchors_the_head_and_the_appendix_prints_it(
    small_case, bob, agency, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    before = AuditEvent.objects.filter(agency=agency).order_by("-seq").first()
    dossier = build(small_case, bob, "dossier", django_capture_on_commit_callbacks)
    refs = anchor_list(agency.pk)
    # The head as the export began (dossier.requested etc. included), before its own events.
    [ref] = [r for r in refs if r.seq >= before.seq]
    anchored = AuditEvent.objects.get(agency=agency, seq=ref.seq)
    assert anchored.hash == ref.hash
    assert AuditEvent.objects.filter(agency=agency, seq__gt=ref.seq).exists()
    text = pdf_text(dossier)
    assert "Chain head anchored for this dossier" in text
    assert f"#{ref.seq}" in text
    assert ref.hash[:32] in text.replace(" ", "")
    assert ref.name in text.replace(" ", "")
    assert f"Key id {anchored.key_id}" in text and anchored.key_id == audit_current_key()[0]
    assert "no Time-Stamp Authority configured" in text
    assert "did not verify" not in text


def test_a_broken_chain_is_stated_in_the_dossier_and_not_anchored(
    small_case, bob, agency, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    with as_db_owner():
        sql(f"UPDATE {EVENTS} SET action = 'forged' WHERE agency_id = %s AND seq = 3", [agency.pk])
    with django_capture_on_commit_callbacks(execute=True):
        dossier = dossier_request(case=small_case, kind="dossier", actor=bob)
    dossier.refresh_from_db()
    assert dossier.status == DossierStatus.DONE, dossier.error
    text = pdf_text(dossier)
    assert "did not verify when this dossier was generated" in text
    assert "first broken link: event #3" in text
    assert "Chain head anchored for this dossier" not in text
    assert anchor_list(agency.pk) == []
