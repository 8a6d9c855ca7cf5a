"""Legal cases through the web UI: open, edit, link findings, deadlines, timeline."""

from __future__ import annotations

import re
from datetime import date

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from cases.intake.services.findings import finding_set_status
from cases.kernel.models import AuditEvent
from cases.legal.models import Case, CaseStatus
from cases.legal.services.legal_cases import case_create, case_deadline_add
from tests.factories import ArtistFactory, make_finding

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):  # type: ignore[no-untyped-def]
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def case(agency, bob, finding):  # type: ignore[no-untyped-def]
    return case_create(agency=agency, actor=bob, title="Deepfake ring", findings=[finding])


def _messages(response) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_legal_staff_open_a_case(client, bob, artist):
    client.force_login(bob)
    response = client.post(
        reverse("case_create"),
        {
            "title": "Channel reposting fakes",
            "status": CaseStatus.OPEN,
            "artists": [artist.pk],
            "jurisdiction": "Seoul Central District",
            "police_report_number": "SPA-2025-001",
            "court_docket": "",
            "counsel_name": "Lee & Partners",
            "counsel_email": "counsel@example.test",
            "notes": "Urgent",
        },
    )
    case = Case.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("case_detail", args=[case.pk])
    assert case.reference.startswith("AG-")
    assert list(case.artists.all()) == [artist]
    assert case.counsel_email == "counsel@example.test"
    assert case.created_by == bob
    assert f"Case {case.reference} created." in _messages(response)


def test_a_case_needs_a_title_and_a_valid_email(client, bob):
    client.force_login(bob)
    response = client.post(
        reverse("case_create"), {"title": "", "status": "open", "counsel_email": "nope"}
    )
    content = response.content.decode()
    assert response.status_code == 200
    assert "This field is required." in content
    assert "Enter a valid email address." in content
    assert not Case.objects.exists()


def test_editing_a_case_records_what_changed(client, bob, case):
    client.force_login(bob)
    form = client.get(reverse("case_update", args=[case.pk])).content.decode()
    assert 'value="Deepfake ring"' in form
    response = client.post(
        reverse("case_update", args=[case.pk]),
        {"title": "Deepfake ring", "status": CaseStatus.FILED_POLICE},
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == CaseStatus.FILED_POLICE
    event = AuditEvent.objects.filter(object_type="case", action="case.updated").get()
    assert event.data["status"] == {"from": "open", "to": "filed_police"}
    content = client.get(reverse("case_detail", args=[case.pk])).content.decode()
    assert "Open → Filed with police" in content


def test_case_detail_shows_findings_deadlines_and_timeline(client, carol, bob, case, finding):
    case_deadline_add(case=case, actor=bob, title="Hearing", due_on=date(2031, 3, 1))
    finding_set_status(finding=finding, status="triaged", actor=bob)
    client.force_login(carol)
    content = client.get(reverse("case_detail", args=[case.pk])).content.decode()
    assert finding.canonical_url in content
    assert "Hearing" in content
    # The timeline mixes the case's events and its findings', with human labels.
    assert "Case opened" in content
    assert "Deadline added" in content
    assert "Finding status changed" in content
    assert "New → Triaged" in content
    # A viewer gets no forms.
    assert reverse("case_findings", args=[case.pk]) not in content
    assert reverse("case_deadline_add", args=[case.pk]) not in content


def test_findings_are_linked_by_pasted_ids_and_picked_from_the_list(client, bob, agency, case):
    a = make_finding(agency, "https://vimeo.com/a", actor=bob)
    b = make_finding(agency, "https://vimeo.com/b", actor=bob)
    client.force_login(bob)
    content = client.get(reverse("case_detail", args=[case.pk])).content.decode()
    assert f'name="picked" value="{a.pk}"' in content  # offered from the recent findings
    response = client.post(
        reverse("case_findings", args=[case.pk]),
        {"action": "link", "ids": f"#{a.pk}, 999999", "picked": [b.pk]},
    )
    assert set(case.findings.values_list("pk", flat=True)) >= {a.pk, b.pk}
    messages = _messages(response)
    assert "2 findings linked." in messages
    assert "No finding with these ids: 999999." in messages


def test_findings_of_another_agency_cannot_be_linked(client, bob, case, other_agency, mallory):
    theirs = make_finding(other_agency, "https://vimeo.com/theirs", actor=mallory)
    client.force_login(bob)
    response = client.post(
        reverse("case_findings", args=[case.pk]), {"action": "link", "ids": str(theirs.pk)}
    )
    assert not case.findings.filter(pk=theirs.pk).exists()
    assert f"No finding with these ids: {theirs.pk}." in _messages(response)


def test_a_finding_is_unlinked(client, bob, case, finding):
    client.force_login(bob)
    response = client.post(
        reverse("case_findings", args=[case.pk]), {"action": "unlink", "picked": [finding.pk]}
    )
    assert "1 finding unlinked." in _messages(response)
    assert not case.findings.exists()
    assert AuditEvent.objects.filter(action="case.findings_unlinked").exists()


def test_linking_nothing_says_what_to_do(client, bob, case):
    client.force_login(bob)
    response = client.post(
        reverse("case_findings", args=[case.pk]), {"action": "link", "ids": "abc"}
    )
    assert "Paste finding ids or pick findings from the list." in _messages(response)


def test_deadlines_are_added_and_marked_done(client, bob, case):
    client.force_login(bob)
    client.post(
        reverse("case_deadline_add", args=[case.pk]),
        {"title": "File complaint", "due_on": "2030-05-01"},
    )
    deadline = case.deadlines.get()
    assert deadline.due_on == date(2030, 5, 1)
    response = client.post(reverse("case_deadline_done", args=[case.pk, deadline.pk]))
    assert response.status_code == 302
    deadline.refresh_from_db()
    assert deadline.done


def test_a_deadline_without_a_date_is_refused(client, bob, case):
    client.force_login(bob)
    response = client.post(
        reverse("case_deadline_add", args=[case.pk]), {"title": "x", "due_on": "soon"}
    )
    assert "A deadline needs a title and a valid date." in _messages(response)
    assert not case.deadlines.exists()


def test_a_deadline_of_another_case_is_404(client, bob, agency, case):
    other = case_create(agency=agency, actor=bob, title="Other")
    deadline = case_deadline_add(case=other, actor=bob, title="x", due_on=date(2030, 1, 1))
    client.force_login(bob)
    assert (
        client.post(reverse("case_deadline_done", args=[case.pk, deadline.pk])).status_code == 404
    )


def test_the_case_list_searches_and_filters(client, carol, agency, bob):
    open_case = case_create(agency=agency, actor=bob, title="Open matter")
    closed = case_create(agency=agency, actor=bob, title="Closed matter", status=CaseStatus.CLOSED)
    client.force_login(carol)

    def refs(**params) -> set[str]:  # type: ignore[no-untyped-def]
        content = client.get(reverse("case_list"), params).content.decode()
        return set(re.findall(r"AG-\d{4}-\d{4}", content))

    assert refs() == {open_case.reference, closed.reference}
    assert refs(status="closed") == {closed.reference}
    assert refs(q="open") == {open_case.reference}
    assert refs(q=closed.reference) == {closed.reference}
    assert (
        "No cases match these filters."
        in client.get(reverse("case_list"), {"q": "zzz"}).content.decode()
    )


def test_the_empty_case_list_explains_cases(client, carol):
    client.force_login(carol)
    assert "No cases yet." in client.get(reverse("case_list")).content.decode()


def test_artists_of_another_agency_are_not_offered(client, bob, other_agency):
    ArtistFactory(agency=other_agency, stage_name="Nebula star")
    client.force_login(bob)
    assert "Nebula star" not in client.get(reverse("case_create")).content.decode()
