"""Who may generate and download dossiers, packets and annexes, and what is logged.

Decision: viewers see the list of generated files on the case page but can neither
generate nor download any of them (a dossier names collectors, IPs and custody details,
a packet holds unblurred originals: legal-staff material, like evidence downloads)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cases.evidence.models import CustodyAction, CustodyEvent
from cases.kernel.models import AuditEvent
from reports.models import Dossier, DossierKind, DossierStatus
from reports.services import DossierRefused, annex_candidates, dossier_request


@pytest.fixture
def done_dossiers(small_case, bob, django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    made = {}
    with django_capture_on_commit_callbacks(execute=True):
        made["dossier"] = dossier_request(case=small_case, kind="dossier", actor=bob)
        made["packet"] = dossier_request(case=small_case, kind="packet", actor=bob)
        made["annex"] = dossier_request(
            case=small_case,
            kind="annex",
            actor=bob,
            reason="court order 2025-가합-1234",
            evidence_ids=[annex_candidates(small_case)[0].pk],
        )
    for dossier in made.values():
        dossier.refresh_from_db()
        assert dossier.status == DossierStatus.DONE, dossier.error
    return made


def _urls(case, dossier):  # type: ignore[no-untyped-def]
    download = reverse("case_dossier_download", args=[case.pk, dossier.pk])
    return {
        "panel": reverse("case_dossier_panel", args=[case.pk]),
        "create": reverse("case_dossier_create", args=[case.pk]),
        "annex": reverse("case_annex_create", args=[case.pk]),
        "pdf": download + "?part=pdf",
        "zip": download + "?part=zip",
    }


def test_an_outsider_can_neither_see_generate_nor_download_anything(
    client, mallory, small_case, done_dossiers
) -> None:
    client.force_login(mallory)
    before = Dossier.objects.count()
    for dossier in done_dossiers.values():
        urls = _urls(small_case, dossier)
        assert client.get(urls["panel"]).status_code == 404
        assert client.post(urls["create"], {"kind": "dossier"}).status_code == 404
        annex = {"reason": "x", "evidence": [annex_candidates(small_case)[0].pk]}
        assert client.post(urls["annex"], annex).status_code == 404
        assert client.get(urls["pdf"]).status_code == 404
        assert client.get(urls["zip"]).status_code == 404
    assert Dossier.objects.count() == before
    with pytest.raises(DossierRefused):
        dossier_request(case=small_case, kind="dossier", actor=mallory)


def test_an_outsider_cannot_reach_a_dossier_through_her_own_case(
    client, mallory, other_agency, small_case, done_dossiers
) -> None:
    from cases.legal.services.legal_cases import case_create

    own = case_create(agency=other_agency, actor=mallory, title="Nebula case")
    client.force_login(mallory)
    url = reverse("case_dossier_download", args=[own.pk, done_dossiers["dossier"].pk])
    assert client.get(url + "?part=pdf").status_code == 404


def test_a_viewer_sees_the_list_but_cannot_generate_or_download(
    client, carol, small_case, done_dossiers
) -> None:
    client.force_login(carol)
    before = Dossier.objects.count()
    urls = _urls(small_case, done_dossiers["annex"])
    panel = client.get(urls["panel"])
    assert panel.status_code == 200
    assert done_dossiers["dossier"].identifier in panel.content.decode()
    assert b"data-download" not in panel.content
    assert client.post(urls["create"], {"kind": "dossier"}).status_code == 403
    annex = {"reason": "x", "evidence": [annex_candidates(small_case)[0].pk]}
    assert client.post(urls["annex"], annex).status_code == 403
    for dossier in done_dossiers.values():
        urls = _urls(small_case, dossier)
        assert client.get(urls["pdf"]).status_code == 403
        assert client.get(urls["zip"]).status_code == 403
    assert Dossier.objects.count() == before
    with pytest.raises(DossierRefused):
        dossier_request(case=small_case, kind="annex", actor=carol, reason="x", evidence_ids=[1])


def test_legal_staff_download_is_an_attachment_and_is_logged(
    client, bob, small_case, done_dossiers
) -> None:
    client.force_login(bob)
    packet = done_dossiers["packet"]
    urls = _urls(small_case, packet)
    before = CustodyEvent.objects.filter(action=CustodyAction.DOWNLOADED).count()
    response = client.get(urls["zip"])
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Type"] == "application/zip"
    body = b"".join(response.streaming_content)
    import hashlib

    assert hashlib.sha256(body).hexdigest() == packet.zip_sha256
    downloaded = CustodyEvent.objects.filter(action=CustodyAction.DOWNLOADED).count() - before
    assert downloaded == len(packet.evidence_hashes)
    assert AuditEvent.objects.filter(
        action="dossier.downloaded", object_type="dossier", object_id=str(packet.pk)
    ).exists()
    pdf = client.get(urls["pdf"])
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")
    assert client.get(_urls(small_case, done_dossiers["dossier"])["zip"]).status_code == 404


def test_the_annex_needs_a_reason_and_named_items_and_is_logged(
    client, bob, small_case, django_capture_on_commit_callbacks
) -> None:
    client.force_login(bob)
    url = reverse("case_annex_create", args=[small_case.pk])
    candidate = annex_candidates(small_case)[0]
    client.post(url, {"reason": "", "evidence": [candidate.pk]})
    client.post(url, {"reason": "police request"})
    assert not Dossier.objects.filter(kind=DossierKind.ANNEX).exists()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, {"reason": "police request", "evidence": [candidate.pk]})
    assert response.status_code == 302
    annex = Dossier.objects.get(kind=DossierKind.ANNEX)
    assert annex.status == DossierStatus.DONE, annex.error
    assert annex.evidence_hashes == [candidate.sha256]
    exported = CustodyEvent.objects.filter(action=CustodyAction.EXPORTED, evidence=candidate)
    assert exported.count() == 1 and "police request" in exported.get().reason


def test_the_annex_refuses_items_of_another_case(bob, small_case, agency, artist) -> None:
    from tests.reports.builders import build_case

    other = build_case(agency=agency, actor=bob, artists=[artist], items=3, title="other", seed=7)
    foreign = annex_candidates(other)[0]
    with pytest.raises(DossierRefused):
        dossier_request(
            case=small_case, kind="annex", actor=bob, reason="x", evidence_ids=[foreign.pk]
        )


def test_the_case_page_shows_the_panel_with_progress(client, bob, small_case) -> None:
    Dossier.objects.create(
        agency=small_case.agency,
        case=small_case,
        kind=DossierKind.DOSSIER,
        status=DossierStatus.RUNNING,
        progress=40,
        step="Rendering the PDF",
        generated_by=bob,
        generated_by_label="bob",
    )
    client.force_login(bob)
    page = client.get(reverse("case_detail", args=[small_case.pk])).content.decode()
    assert "data-dossier-panel" in page
    assert 'hx-trigger="every 2s"' in page and 'value="40"' in page
    assert "Generate dossier" in page
