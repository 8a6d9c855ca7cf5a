"""Repeated fan reports are counted, not stored twice; the same screenshot from two fans is
linked; the fan sees the same thank-you page whatever happened."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from cases.intake.models import FanReport, FanScreenshot, Finding
from cases.intake.services.fan_reports import fan_report_submit
from cases.kernel.models import AuditEvent
from cases.kernel.storage import blob_hash, blob_name, evidence_storage
from tests.cases.test_fan_languages import fan_catalogs  # noqa: F401 - fixture
from tests.matching.images import jpeg_bytes, png_bytes, scene

pytestmark = pytest.mark.django_db

URL = "https://vimeo.com/fake-1"


def _post(client, slug="aurora", ip="198.51.100.7", screenshot=None, **data):  # type: ignore[no-untyped-def]
    payload = {"url": URL, "artist": "", "description": "", "contact": "", "website": ""}
    payload.update(data)
    if screenshot is not None:
        payload["screenshot"] = screenshot
    return client.post(reverse("fan_report", args=[slug]), payload, REMOTE_ADDR=ip)


def _jpeg(seed: int = 1, name: str = "shot.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, jpeg_bytes(scene(seed)), content_type="image/jpeg")


def _actions(agency) -> list[str]:  # type: ignore[no-untyped-def]
    return list(
        AuditEvent.objects.filter(agency=agency).order_by("id").values_list("action", flat=True)
    )


# --- the same person, the same URL ---------------------------------------------------------


def test_the_same_contact_reporting_the_same_url_twice_makes_one_report(client, agency):
    first = _post(client, contact="fan@example.test", description="On Vimeo", ip="198.51.100.7")
    # Another address, the same contact written differently: the same person.
    second = _post(
        client,
        url="https://vimeo.com/fake-1?utm_source=x",
        contact=" FAN@example.test ",
        description="Still online",
        ip="203.0.113.9",
    )
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    report = FanReport.objects.get()
    assert report.repeat_count == 1
    assert report.last_repeated_at is not None
    assert report.description == "On Vimeo\n\n---\nStill online"
    assert _actions(agency).count("fan_report.received") == 1
    repeated = AuditEvent.objects.get(agency=agency, action="fan_report.repeated")
    assert repeated.data["matched_on"] == "contact"
    assert repeated.data["repeat_count"] == 1


def test_without_a_contact_the_same_address_is_the_same_reporter(client, agency):
    _post(client, ip="198.51.100.7")
    _post(client, ip="198.51.100.7")
    _post(client, ip="198.51.100.7")
    report = FanReport.objects.get()
    assert report.repeat_count == 2
    # The address is kept only as a keyed hash.
    assert report.address_key and "198.51.100.7" not in report.address_key
    assert len(report.address_key) == 64


def test_another_address_without_a_contact_is_another_report(client, agency):
    _post(client, ip="198.51.100.7")
    _post(client, ip="198.51.100.8")
    assert FanReport.objects.count() == 2
    assert Finding.objects.count() == 1


def test_two_contacts_behind_one_address_are_two_reporters(client, agency):
    _post(client, ip="198.51.100.7", contact="a@example.test")
    _post(client, ip="198.51.100.7", contact="b@example.test")
    assert FanReport.objects.count() == 2
    assert not FanReport.objects.filter(repeat_count__gt=0).exists()


def test_another_url_from_the_same_reporter_is_another_report(client, agency):
    _post(client, contact="fan@example.test")
    _post(client, contact="fan@example.test", url="https://vimeo.com/fake-2")
    assert FanReport.objects.count() == 2


def test_a_repeat_after_the_window_is_a_new_report(client, agency, settings):
    settings.FAN_REPORT_REPEAT_WINDOW = timedelta(hours=24)
    _post(client, contact="fan@example.test")
    old = FanReport.objects.get()
    FanReport.objects.filter(pk=old.pk).update(created_at=old.created_at - timedelta(hours=25))
    _post(client, contact="fan@example.test")
    assert FanReport.objects.count() == 2
    assert FanReport.objects.get(pk=old.pk).repeat_count == 0


def test_a_repeat_keeps_a_contact_the_first_report_lacked(client, agency):
    _post(client, ip="198.51.100.7")
    _post(client, ip="198.51.100.7", contact="later@example.test")
    report = FanReport.objects.get()
    assert report.contact == "later@example.test"
    assert report.repeat_count == 1


def test_the_same_reporter_in_another_agency_is_not_a_repeat(client, agency, other_agency):
    _post(client, slug="aurora", contact="fan@example.test")
    _post(client, slug="nebula", contact="fan@example.test")
    assert FanReport.objects.filter(agency=agency).count() == 1
    assert FanReport.objects.filter(agency=other_agency).count() == 1
    assert not FanReport.objects.filter(repeat_count__gt=0).exists()
    # Keys are per agency: the same contact hashes differently in each.
    keys = set(FanReport.objects.values_list("contact_key", flat=True))
    assert len(keys) == 2


# --- screenshots ----------------------------------------------------------------------------


def test_a_screenshot_is_kept_write_once_under_its_sha256(
    client, agency, django_capture_on_commit_callbacks
):
    data = jpeg_bytes(scene(1))
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, screenshot=SimpleUploadedFile("s.jpg", data, "image/jpeg"))
    assert response.status_code == 302
    shot = FanScreenshot.objects.get()
    assert shot.sha256 == hashlib.sha256(data).hexdigest()
    assert (shot.size, shot.media_type, shot.width, shot.height) == (
        len(data),
        "image/jpeg",
        640,
        480,
    )
    assert blob_hash(blob_name(shot.sha256)) == shot.sha256
    assert evidence_storage().exists(blob_name(shot.sha256))
    # Hashed after commit (the outbox runs the task inline in tests).
    assert len(shot.pdq_hex) == 64 and shot.hashed_at is not None
    assert (shot.pdq_quality or 0) >= 50
    assert "fan_screenshot.stored" in _actions(agency)
    assert "fan_screenshot.no_match" in _actions(agency)


def test_the_same_screenshot_from_two_fans_is_linked(
    client, agency, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = _post(client, ip="198.51.100.7", screenshot=_jpeg(3))
    # Another fan, another URL, the same picture re-encoded as PNG.
    with django_capture_on_commit_callbacks(execute=True):
        second = _post(
            client,
            ip="203.0.113.9",
            url="https://vimeo.com/fake-mirror",
            screenshot=SimpleUploadedFile("x.png", png_bytes(scene(3)), "image/png"),
        )
    # The fan learns nothing: the same redirect and the same thank-you page.
    assert first["Location"] == second["Location"]
    earlier, later = FanScreenshot.objects.order_by("id")
    assert later.same_media_as == earlier
    assert later.distance is not None and later.distance <= 31
    assert earlier.same_media_as is None
    event = AuditEvent.objects.get(agency=agency, action="fan_screenshot.same_media")
    assert event.data["earlier_report"] == earlier.report_id
    assert event.data["earlier_finding"] == earlier.report.finding_id
    assert event.data["finding"] == later.report.finding_id != earlier.report.finding_id


def test_screenshots_hashed_out_of_order_are_still_linked(
    agency, django_capture_on_commit_callbacks
):
    from cases.intake.fan_screenshots import fan_screenshot_read
    from cases.matching.services.fan_screenshots import fan_screenshot_match

    def upload(url: str, address: str) -> FanScreenshot:
        data = jpeg_bytes(scene(5))
        shot = fan_screenshot_read(SimpleUploadedFile("a.jpg", data), size=len(data))
        # No on-commit run: hashing is done by hand below, later one first.
        report = fan_report_submit(
            agency=agency, url=url, artist=None, client_address=address, screenshot=shot
        )
        return report.screenshots.get()

    first = upload("https://vimeo.com/a", "198.51.100.1")
    second = upload("https://vimeo.com/b", "198.51.100.2")
    fan_screenshot_match(screenshot_id=second.pk)
    fan_screenshot_match(screenshot_id=first.pk)
    second.refresh_from_db()
    first.refresh_from_db()
    assert second.same_media_as == first
    assert first.same_media_as is None
    # Idempotent: running again changes nothing.
    assert fan_screenshot_match(screenshot_id=second.pk) is None


def test_different_pictures_are_not_linked(client, agency, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, ip="198.51.100.7", screenshot=_jpeg(11))
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, ip="203.0.113.9", url="https://vimeo.com/other", screenshot=_jpeg(12))
    assert FanScreenshot.objects.count() == 2
    assert not FanScreenshot.objects.filter(same_media_as__isnull=False).exists()
    assert _actions(agency).count("fan_screenshot.no_match") == 2


def test_the_same_picture_in_another_agency_is_not_linked(
    client, agency, other_agency, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, slug="aurora", screenshot=_jpeg(7))
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, slug="nebula", ip="203.0.113.9", screenshot=_jpeg(7))
    assert FanScreenshot.objects.count() == 2
    assert not FanScreenshot.objects.filter(same_media_as__isnull=False).exists()
    assert not AuditEvent.objects.filter(action="fan_screenshot.same_media").exists()


def test_a_repeat_with_a_screenshot_adds_it_to_the_first_report(
    client, agency, django_capture_on_commit_callbacks
):
    _post(client, contact="fan@example.test")
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, contact="fan@example.test", screenshot=_jpeg(2))
    report = FanReport.objects.get()
    assert report.repeat_count == 1
    assert report.screenshots.count() == 1


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("shot.png", b"<svg xmlns='http://www.w3.org/2000/svg'></svg>", "Please attach a picture"),
        ("shot.png", b"%PDF-1.7\n...", "Please attach a picture"),
        ("shot.gif", b"GIF89a\x01\x00garbage", "This image could not be read"),
        ("shot.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 64, "This image could not be read"),
    ],
)
def test_a_malformed_screenshot_is_refused_with_a_clear_message(
    client, agency, name, data, message
):
    response = _post(client, screenshot=SimpleUploadedFile(name, data, "image/png"))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not FanReport.objects.exists()
    assert not FanScreenshot.objects.exists()


def test_an_empty_screenshot_is_refused(client, agency):
    response = _post(client, screenshot=SimpleUploadedFile("shot.png", b"", "image/png"))
    assert response.status_code == 200
    assert "The submitted file is empty." in response.content.decode()
    assert not FanReport.objects.exists()


def test_a_screenshot_over_the_limit_is_refused_in_the_fans_language(client, agency, settings):
    settings.FAN_SCREENSHOT_MAX_BYTES = 1000
    response = client.post(
        reverse("fan_report", args=["aurora"]) + "?lang=ja",
        {"url": URL, "website": "", "screenshot": _jpeg(1)},
    )
    assert response.status_code == 200
    assert "スクリーンショットのサイズが大きすぎます" in response.content.decode()
    assert not FanReport.objects.exists()


def test_a_decompression_bomb_is_refused(client, agency):
    from PIL import Image

    from tests.matching.images import png_bytes as to_png

    # 10,000 x 10,000 pixels: over the decoder's 89 MP limit, a few hundred KB as PNG.
    bomb = to_png(Image.new("L", (10_000, 10_000)))
    response = _post(client, screenshot=SimpleUploadedFile("bomb.png", bomb, "image/png"))
    assert response.status_code == 200
    assert "This image could not be read" in response.content.decode()
    assert not FanScreenshot.objects.exists()


def test_the_screenshot_is_never_shown_back(
    client, agency, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(client, screenshot=_jpeg(4))
    thanks = client.get(response["Location"]).content.decode()
    shot = FanScreenshot.objects.get()
    assert "<img" not in thanks
    assert shot.sha256 not in thanks
    # Staff see that one is kept and what it matched, never the picture.
    client.force_login(alice)
    detail = client.get(reverse("finding_detail", args=[shot.report.finding_id])).content.decode()
    assert "Screenshot kept, not shown" in detail
    assert shot.sha256[:12] in detail
    assert "<img" not in detail


def test_staff_see_the_repeat_count_and_the_link_to_the_earlier_report(
    client, agency, alice, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, ip="198.51.100.7", screenshot=_jpeg(8))
    _post(client, ip="198.51.100.7")
    with django_capture_on_commit_callbacks(execute=True):
        _post(client, ip="203.0.113.9", url="https://vimeo.com/copy", screenshot=_jpeg(8))
    first, second = FanReport.objects.order_by("id")
    client.force_login(alice)
    content = client.get(reverse("finding_detail", args=[first.finding_id])).content.decode()
    assert "sent again 1 time" in content
    content = client.get(reverse("finding_detail", args=[second.finding_id])).content.decode()
    assert f"fan report #{first.pk}</a>" in content
    assert reverse("finding_detail", args=[first.finding_id]) in content


@pytest.mark.usefixtures("fan_catalogs")
def test_staff_read_the_repeat_and_the_screenshot_in_korean(client, agency, alice):
    _post(client, ip="198.51.100.7", screenshot=_jpeg(9))
    _post(client, ip="198.51.100.7")
    report = FanReport.objects.get()
    client.force_login(alice)
    client.post(reverse("set_language"), {"language": "ko"})
    content = client.get(reverse("finding_detail", args=[report.finding_id])).content.decode()
    assert "1회 다시 제보됨" in content
    assert "스크린샷 보관됨(표시하지 않음)" in content
