"""The public fan report page: no login, rate-limited, with a honeypot, never any media."""

from __future__ import annotations

import pytest
from django.urls import reverse

from cases.intake.models import FanReport, Finding, FindingSource
from tests.factories import ArtistFactory

pytestmark = pytest.mark.django_db


def _report(client, slug: str = "aurora", **data):  # type: ignore[no-untyped-def]
    payload = {
        "url": "https://vimeo.com/fake-1",
        "artist": "",
        "description": "",
        "contact": "",
        "website": "",
    }
    payload.update(data)
    return client.post(reverse("fan_report", args=[slug]), payload)


def test_a_fan_reports_a_link_without_logging_in(client, agency, artist):
    response = _report(
        client, artist=artist.pk, description="Fake video of Yuna", contact="fan@example.test"
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("fan_report_thanks", args=["aurora"])
    finding = Finding.objects.get()
    assert finding.source == FindingSource.FAN_REPORT
    assert finding.agency == agency
    assert list(finding.artists.all()) == [artist]
    report = FanReport.objects.get()
    assert report.description == "Fake video of Yuna"
    assert report.contact == "fan@example.test"
    thanks = client.get(response["Location"])
    assert thanks.status_code == 200
    assert "Thank you for your report" in thanks.content.decode()


def test_a_second_report_of_the_same_url_joins_the_finding(client, agency, finding):
    _report(client, url="https://www.youtube.com/watch?v=aurora-secret-1&si=share")
    assert Finding.objects.count() == 1
    assert FanReport.objects.get().finding == finding


def test_the_form_names_artists_by_stage_name_only(client, agency, artist):
    ArtistFactory(agency=agency, stage_name="Retired star", active=False)
    content = client.get(reverse("fan_report", args=["aurora"])).content.decode()
    assert "Yuna (유나)" in content
    assert "Kim Yuna-secret" not in content
    assert "Retired star" not in content
    assert 'name="website"' in content
    assert "<img" not in content
    assert "<video" not in content


def test_an_artist_of_another_agency_cannot_be_picked(client, agency, other_agency):
    foreign = ArtistFactory(agency=other_agency, stage_name="Nebula star")
    response = _report(client, artist=foreign.pk)
    assert response.status_code == 200
    assert not Finding.objects.exists()


def test_an_invalid_url_is_explained(client, agency):
    response = _report(client, url="file:///etc/passwd")
    assert response.status_code == 200
    assert "Only http and https URLs can be recorded" in response.content.decode()
    assert not Finding.objects.exists()


def test_the_honeypot_pretends_success_and_stores_nothing(client, agency):
    response = _report(client, website="http://spam.example")
    assert response.status_code == 302
    assert response["Location"] == reverse("fan_report_thanks", args=["aurora"])
    assert not Finding.objects.exists()
    assert not FanReport.objects.exists()


def test_reports_are_rate_limited_per_address(client, agency, settings):
    settings.FAN_REPORT_RATE = "2/m"
    assert _report(client, url="https://vimeo.com/1").status_code == 302
    assert _report(client, url="https://vimeo.com/2").status_code == 302
    response = _report(client, url="https://vimeo.com/3")
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= 60
    assert "Too many reports" in response.content.decode()
    assert Finding.objects.count() == 2
    # Reading the page is never limited.
    assert client.get(reverse("fan_report", args=["aurora"])).status_code == 200


def test_an_unknown_agency_is_404(client, agency):
    assert client.get(reverse("fan_report", args=["nobody"])).status_code == 404
    assert _report(client, slug="nobody").status_code == 404
    assert client.get(reverse("fan_report_thanks", args=["nobody"])).status_code == 404


def test_an_agency_that_does_not_take_fan_reports_is_404(client, agency):
    agency.fan_reports_enabled = False
    agency.save()
    assert client.get(reverse("fan_report", args=["aurora"])).status_code == 404
    assert _report(client).status_code == 404
    assert not Finding.objects.exists()
