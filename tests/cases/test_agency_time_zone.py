"""Each agency's own time zone: its members' pages, its notices and dossiers show times in
it; another agency, anonymous pages and the API keep theirs. Admins set it, audited."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.intake.models import Finding
from cases.kernel.models import Agency, AuditEvent
from cases.kernel.times import agency_zone, when, zone_named

pytestmark = pytest.mark.django_db
MOMENT = datetime(2026, 12, 2, 11, 24, 5, tzinfo=UTC)


def _at_moment(finding: Finding) -> None:
    Finding.objects.filter(pk=finding.pk).update(created_at=MOMENT)


def test_a_member_sees_their_agencys_zone_and_an_outsider_their_own(  # type: ignore[no-untyped-def]
    client, agency, bob, mallory, finding, settings
) -> None:
    settings.TIME_ZONE = "Asia/Seoul"
    _at_moment(finding)
    Agency.objects.filter(pk=agency.pk).update(time_zone="Asia/Tokyo")
    client.force_login(bob)
    page = client.get(reverse("finding_detail", args=[finding.pk])).content.decode()
    assert "2026-12-02 20:24 JST" in page and "KST" not in page
    # Contrary case: with the agency's zone unset, the deployment's zone.
    Agency.objects.filter(pk=agency.pk).update(time_zone="")
    page = client.get(reverse("finding_detail", args=[finding.pk])).content.decode()
    assert "2026-12-02 20:24 KST" in page
    # The zone does not leak into the next request of another agency's member.
    Agency.objects.filter(pk=agency.pk).update(time_zone="America/New_York")
    client.get(reverse("finding_detail", args=[finding.pk]))
    client.force_login(mallory)
    client.get(reverse("dashboard"))
    assert timezone.get_current_timezone_name() == "Asia/Seoul"  # deactivated after


def test_an_admin_sets_the_zone_audited_and_a_bad_name_is_refused(  # type: ignore[no-untyped-def]
    client, agency, alice
) -> None:
    client.force_login(alice)
    url = reverse("agency_settings")
    response = client.post(url, {"time_zone": "Mars/Olympus_Mons"})
    assert response.status_code == 200 and "Mars/Olympus_Mons" in response.content.decode()
    agency.refresh_from_db()
    assert agency.time_zone == ""
    assert client.post(url, {"time_zone": "Europe/Paris"}).status_code == 302
    agency.refresh_from_db()
    assert agency.time_zone == "Europe/Paris"
    event = AuditEvent.objects.get(action="agency.time_zone_changed")
    assert event.data == {"from": "", "to": "Europe/Paris"}
    # The two-factor form alone (no zone field) leaves the zone as it is.
    client.post(url, {"require_two_factor": "on"})
    agency.refresh_from_db()
    assert agency.time_zone == "Europe/Paris"


def test_a_viewer_or_legal_user_cannot_change_it(client, agency, bob, carol) -> None:  # type: ignore[no-untyped-def]
    for user in (bob, carol):
        client.force_login(user)
        assert client.post(reverse("agency_settings"), {"time_zone": "UTC"}).status_code == 403
    agency.refresh_from_db()
    assert agency.time_zone == ""


def test_work_done_by_a_worker_uses_the_agencys_zone(agency, settings) -> None:  # type: ignore[no-untyped-def]
    settings.TIME_ZONE = "Asia/Seoul"
    agency.time_zone = "Europe/London"
    with agency_zone(agency):
        assert when(MOMENT) == "2026-12-02 11:24 GMT"
    assert when(MOMENT) == "2026-12-02 20:24 KST"


def test_an_unknown_stored_zone_falls_back_to_the_deployments(settings) -> None:
    settings.TIME_ZONE = "Asia/Seoul"
    assert zone_named("No/Such_Zone") is None and zone_named("") is None
    with agency_zone(Agency(time_zone="No/Such_Zone")):
        assert when(MOMENT) == "2026-12-02 20:24 KST"  # the deployment's zone
