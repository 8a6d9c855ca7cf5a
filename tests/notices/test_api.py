"""Notices and platforms in the REST API: same permissions as the rest (viewers read,
outsiders get 404), writes through the services."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from cases.notices.models import Notice, NoticeStatus

pytestmark = pytest.mark.django_db


def _client(user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_members_list_their_platforms_and_outsiders_see_none_of_them(
    carol, mallory, host_platform
) -> None:  # type: ignore[no-untyped-def]
    names = [p["name"] for p in _client(carol).get("/api/platforms/").json()["results"]]
    assert "Suspect Host" in names
    assert _client(mallory).get(f"/api/platforms/{host_platform.pk}/").status_code == 404
    theirs = [p["name"] for p in _client(mallory).get("/api/platforms/").json()["results"]]
    assert "Suspect Host" not in theirs
    assert (
        _client(carol).patch(f"/api/platforms/{host_platform.pk}/", {"name": "x"}).status_code
        == 403
    )


def test_legal_staff_create_and_send_a_notice_through_the_api(
    bob, signer, hosted_finding, reference, mailoutbox
) -> None:  # type: ignore[no-untyped-def]
    client = _client(bob)
    created = client.post(
        "/api/notices/",
        {
            "findings": [hosted_finding.pk],
            "legal_basis": "dmca_512c3",
            "language": "en",
            "signer": signer.pk,
            "reference_media": [reference.pk],
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    notice_id = created.json()["id"]
    sent = client.post(f"/api/notices/{notice_id}/send/")
    assert sent.status_code == 200
    body = sent.json()
    assert (
        body["status"] == "sent" and body["message_id"] == mailoutbox[0].extra_headers["Message-ID"]
    )
    assert body["rendered_sha256"] == Notice.objects.get(pk=notice_id).rendered_sha256

    acknowledged = client.post(
        f"/api/notices/{notice_id}/status/", {"action": "acknowledge", "platform_reference": "T-9"}
    )
    assert acknowledged.json()["status"] == "acknowledged"
    assert acknowledged.json()["platform_reference"] == "T-9"


def test_sending_an_incomplete_notice_through_the_api_names_the_missing_fields(
    bob, make_notice
) -> None:  # type: ignore[no-untyped-def]
    notice = make_notice("dmca_512c3", signer=None)
    response = _client(bob).post(f"/api/notices/{notice.pk}/send/")
    assert response.status_code == 400
    assert {"signature", "contact_email"} <= set(response.json()["missing"])
    assert Notice.objects.get(pk=notice.pk).status == NoticeStatus.DRAFT


def test_viewers_read_notices_but_cannot_send_and_outsiders_get_404(
    carol, mallory, make_notice
) -> None:  # type: ignore[no-untyped-def]
    notice = make_notice("dmca_512c3")
    assert _client(carol).get(f"/api/notices/{notice.pk}/").status_code == 200
    assert _client(carol).post(f"/api/notices/{notice.pk}/send/").status_code == 403
    assert _client(mallory).get(f"/api/notices/{notice.pk}/").status_code == 404
    assert _client(mallory).post(f"/api/notices/{notice.pk}/send/").status_code == 404
    assert _client(mallory).get("/api/notices/").json()["results"] == []


def test_an_outsiders_finding_ids_cannot_be_put_in_a_notice(mallory, hosted_finding) -> None:  # type: ignore[no-untyped-def]
    response = _client(mallory).post(
        "/api/notices/",
        {"findings": [hosted_finding.pk], "legal_basis": "platform_policy"},
        format="json",
    )
    assert response.status_code == 400
    assert not Notice.objects.exists()
