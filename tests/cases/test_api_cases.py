"""The cases API: create, edit, link findings; only within the caller's agency."""

from __future__ import annotations

from django.urls import reverse
from rest_framework.test import APIClient

from cases.kernel.models import AuditEvent
from cases.legal.models import Case
from cases.legal.services.legal_cases import case_create
from tests.factories import make_finding

CASES = reverse("api:case-list")


def _client(user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_login(user)
    return client


def test_legal_staff_create_a_case_with_findings_and_artists(bob, artist, finding) -> None:  # type: ignore[no-untyped-def]
    response = _client(bob).post(
        CASES,
        {
            "title": "Deepfake ring",
            "artists": [artist.pk],
            "findings": [finding.pk],
            "jurisdiction": "Seoul",
            "counsel_email": "counsel@example.test",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["reference"].startswith("AG-") and body["status"] == "open"
    assert body["finding_ids"] == [finding.pk] and body["finding_count"] == 1
    assert body["artists"] == [artist.pk] and body["deadlines"] == []
    assert "findings" not in body
    assert AuditEvent.objects.filter(action="case.created", object_id=str(body["id"])).exists()


def test_a_case_needs_a_title_and_a_valid_status(bob) -> None:  # type: ignore[no-untyped-def]
    response = _client(bob).post(CASES, {"status": "won", "counsel_email": "nope"}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"title", "status", "counsel_email"}
    assert not Case.objects.exists()


def test_findings_of_another_agency_are_400_and_nothing_is_created(
    bob, other_agency, finding
) -> None:  # type: ignore[no-untyped-def]
    foreign = make_finding(other_agency, "https://example.com/nebula")
    response = _client(bob).post(
        CASES, {"title": "X", "findings": [finding.pk, foreign.pk]}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"findings": [f"Not found in your agency: {foreign.pk}."]}
    assert not Case.objects.exists()


def test_a_case_status_change_is_audited(bob, agency) -> None:  # type: ignore[no-untyped-def]
    case = case_create(agency=agency, actor=bob, title="A")
    response = _client(bob).patch(
        reverse("api:case-detail", args=[case.pk]), {"status": "filed_police"}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "filed_police"
    event = AuditEvent.objects.filter(action="case.status_changed").get()
    assert event.data == {"status": {"from": "open", "to": "filed_police"}}


def test_findings_are_linked_through_the_action_not_the_update(bob, agency, finding) -> None:  # type: ignore[no-untyped-def]
    case = case_create(agency=agency, actor=bob, title="A")
    client = _client(bob)
    refused = client.patch(
        reverse("api:case-detail", args=[case.pk]), {"findings": [finding.pk]}, format="json"
    )
    assert refused.status_code == 400
    assert refused.json() == {
        "findings": ["Link or unlink findings with POST /api/cases/<id>/findings/."]
    }

    link = reverse("api:case-findings", args=[case.pk])
    second = make_finding(agency, "https://example.com/second")
    linked = client.post(link, {"findings": [finding.pk, second.pk]}, format="json")
    assert linked.json() == {"changed": 2, "finding_ids": sorted([finding.pk, second.pk])}
    again = client.post(link, {"findings": [finding.pk]}, format="json")
    assert again.json()["changed"] == 0
    unlinked = client.post(link, {"findings": [finding.pk], "unlink": True}, format="json")
    assert unlinked.json() == {"changed": 1, "finding_ids": [second.pk]}
    actions = list(
        AuditEvent.objects.filter(object_type="case")
        .values_list("action", flat=True)
        .order_by("seq")
    )
    # The case was opened with a finding of an artist: that artist joined the case.
    assert actions == [
        "case.created",
        "case.artists_added",
        "case.findings_linked",
        "case.findings_unlinked",
    ]


def test_linking_refuses_foreign_or_missing_findings(bob, agency, other_agency) -> None:  # type: ignore[no-untyped-def]
    case = case_create(agency=agency, actor=bob, title="A")
    foreign = make_finding(other_agency, "https://example.com/nebula")
    link = reverse("api:case-findings", args=[case.pk])
    client = _client(bob)
    assert client.post(link, {"findings": [foreign.pk]}, format="json").status_code == 400
    assert client.post(link, {"findings": []}, format="json").json() == {
        "findings": ["This list may not be empty."]
    }
    assert case.findings.count() == 0


def test_a_viewer_reads_but_cannot_write_cases(carol, bob, agency, finding) -> None:  # type: ignore[no-untyped-def]
    case = case_create(agency=agency, actor=bob, title="A")
    client = _client(carol)
    assert client.get(CASES).json()["results"][0]["finding_count"] == 0
    assert client.post(CASES, {"title": "B"}, format="json").status_code == 403
    assert (
        client.patch(
            reverse("api:case-detail", args=[case.pk]), {"title": "B"}, format="json"
        ).status_code
        == 403
    )
    assert (
        client.post(
            reverse("api:case-findings", args=[case.pk]), {"findings": [finding.pk]}, format="json"
        ).status_code
        == 403
    )
    case.refresh_from_db()
    assert case.title == "A" and Case.objects.count() == 1


def test_cases_are_closed_not_deleted(alice, agency) -> None:  # type: ignore[no-untyped-def]
    case = case_create(agency=agency, actor=alice, title="A")
    assert _client(alice).delete(reverse("api:case-detail", args=[case.pk])).status_code == 405
    assert Case.objects.filter(pk=case.pk).exists()


def test_an_outsider_gets_404_for_a_case(mallory, bob, agency, finding) -> None:  # type: ignore[no-untyped-def]
    case = case_create(agency=agency, actor=bob, title="A")
    client = _client(mallory)
    assert client.get(CASES).json()["results"] == []
    assert client.get(reverse("api:case-detail", args=[case.pk])).status_code == 404
    assert (
        client.post(
            reverse("api:case-findings", args=[case.pk]), {"findings": [finding.pk]}, format="json"
        ).status_code
        == 404
    )
    assert case.findings.count() == 0
