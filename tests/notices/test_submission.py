"""Issue 9: a web-form notice is "ready, awaiting submission" once its text is final, and
becomes Sent only when a person records that the platform's form was submitted (with the
reference number the form returned). Only sent notices count as sent anywhere."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from PIL import Image
from rest_framework.test import APIClient

from cases.agency.models import Platform
from cases.intake.models import FindingStatus
from cases.kernel.models import AuditEvent
from cases.notices.bases import due_after
from cases.notices.models import LegalBasis, Notice, NoticeStatus
from cases.notices.services.deadlines import notice_deadlines_check
from cases.notices.services.errors import NoticeError
from cases.notices.services.sending import notice_record_submission, notice_send
from cases.stats import selectors as stats

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
SUBMITTED = T0 + timedelta(hours=30)


@pytest.fixture
def web_form(host_platform) -> Platform:  # type: ignore[no-untyped-def]
    Platform.objects.filter(pk=host_platform.pk).update(web_form_url="https://site.test/report")
    host_platform.refresh_from_db()
    return host_platform


def _finalised(make_notice, basis: str = LegalBasis.TAKE_IT_DOWN) -> Notice:  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False):
        return notice_send(notice=make_notice(basis, channel="web_form"), actor=None)


def _png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 20), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_finalising_for_a_web_form_is_not_sending(
    make_notice, web_form, hosted_finding, mailoutbox
) -> None:  # type: ignore[no-untyped-def]
    notice = _finalised(make_notice)

    assert notice.status == NoticeStatus.AWAITING_SUBMISSION
    assert notice.sent_at is None and notice.due_at is None
    assert notice.finalised_at == T0 and notice.rendered_sha256  # the text is final
    assert mailoutbox == []
    hosted_finding.refresh_from_db()
    assert hosted_finding.status == FindingStatus.CAPTURED  # no notice reached the platform
    assert AuditEvent.objects.filter(action="notice.finalised", object_id=str(notice.pk)).exists()
    assert not AuditEvent.objects.filter(action="notice.sent", object_id=str(notice.pk)).exists()


def test_a_notice_awaiting_submission_is_not_counted_as_sent(make_notice, web_form, bob) -> None:  # type: ignore[no-untyped-def]
    _finalised(make_notice)

    outcomes = {value: n for value, _label, n in stats.notice_outcomes(bob)}
    assert outcomes["sent"] == 0 and outcomes["awaiting_submission"] == 1
    counts = stats.notice_counts(bob)
    assert (counts.sent, counts.awaiting_submission) == (0, 1)
    assert stats.transparency_report(bob, 2026) == []
    assert stats.removal_times_by_basis(bob) == []
    with time_machine.travel(T0 + timedelta(days=60), tick=False):
        report = notice_deadlines_check()
    assert report.reminded == report.escalated == report.no_response == []


def test_recording_the_submission_makes_it_sent_from_the_submission_time(
    make_notice, web_form, hosted_finding, bob
) -> None:  # type: ignore[no-untyped-def]
    notice = _finalised(make_notice)

    with time_machine.travel(SUBMITTED + timedelta(hours=2), tick=False):
        sent = notice_record_submission(
            notice=notice, actor=bob, platform_reference=" TD-4411 ", submitted_at=SUBMITTED
        )

    assert sent.status == NoticeStatus.SENT
    assert sent.sent_at == SUBMITTED
    assert sent.due_at == SUBMITTED + timedelta(hours=48)  # TAKE IT DOWN: from submission
    assert sent.platform_reference == "TD-4411" and sent.submitted_by == bob
    event = AuditEvent.objects.get(action="notice.submitted", object_id=str(notice.pk))
    assert event.data["platform_reference"] == "TD-4411"
    assert event.data["submitted_at"] == SUBMITTED.isoformat()
    hosted_finding.refresh_from_db()
    assert hosted_finding.status == FindingStatus.NOTICE_SENT
    counts = stats.notice_counts(bob)
    assert (counts.sent, counts.awaiting_submission) == (1, 0)
    assert [r.notices for r in stats.transparency_report(bob, 2026)] == [1]


def test_the_submission_time_defaults_to_now(make_notice, web_form, bob) -> None:  # type: ignore[no-untyped-def]
    notice = _finalised(make_notice, LegalBasis.DMCA_512C3)
    with time_machine.travel(SUBMITTED, tick=False):
        sent = notice_record_submission(notice=notice, actor=bob, platform_reference="C-1")
    assert sent.sent_at == SUBMITTED
    assert sent.due_at == SUBMITTED + due_after(LegalBasis.DMCA_512C3)


@pytest.mark.parametrize(
    ("ref", "submitted_at", "message"),
    [
        ("", SUBMITTED, "reference number"),
        ("   ", SUBMITTED, "reference number"),
        ("X" * 201, SUBMITTED, "200"),
        ("R-1", T0 - timedelta(minutes=1), "before the text was final"),
        ("R-1", SUBMITTED + timedelta(hours=3), "in the future"),
    ],
)
def test_a_bad_submission_record_is_refused_with_a_reason(
    make_notice, web_form, bob, ref, submitted_at, message
) -> None:  # type: ignore[no-untyped-def]
    notice = _finalised(make_notice)
    with (
        time_machine.travel(SUBMITTED, tick=False),
        pytest.raises(NoticeError, match=message),
    ):
        notice_record_submission(
            notice=notice, actor=bob, platform_reference=ref, submitted_at=submitted_at
        )
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.AWAITING_SUBMISSION and notice.sent_at is None


def test_only_a_notice_awaiting_submission_takes_a_submission(make_notice, web_form, bob) -> None:  # type: ignore[no-untyped-def]
    draft = make_notice(LegalBasis.KCSC, channel="web_form")
    with pytest.raises(NoticeError, match="awaiting submission"):
        notice_record_submission(notice=draft, actor=bob, platform_reference="R-1")
    emailed = notice_send(notice=make_notice(LegalBasis.KCSC), actor=None)
    with pytest.raises(NoticeError, match="awaiting submission"):
        notice_record_submission(notice=emailed, actor=bob, platform_reference="R-1")
    notice = _finalised(make_notice)
    with time_machine.travel(SUBMITTED, tick=False):
        notice_record_submission(notice=notice, actor=bob, platform_reference="R-1")
        with pytest.raises(NoticeError, match="awaiting submission"):
            notice_record_submission(notice=notice, actor=bob, platform_reference="R-2")


def test_an_email_notice_is_still_sent_when_the_mail_server_accepts_it(
    make_notice, mailoutbox
) -> None:  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False):
        notice = notice_send(notice=make_notice(LegalBasis.KCSC), actor=None)
    assert notice.status == NoticeStatus.SENT and notice.sent_at == T0
    assert notice.finalised_at == T0 and len(mailoutbox) == 1


def test_the_confirmation_screenshot_is_kept_as_evidence(make_notice, web_form, bob) -> None:  # type: ignore[no-untyped-def]
    notice = _finalised(make_notice)
    with time_machine.travel(SUBMITTED, tick=False):
        sent = notice_record_submission(
            notice=notice,
            actor=bob,
            platform_reference="R-9",
            confirmation=io.BytesIO(_png()),
            confirmation_name="confirmation.png",
        )
    item = sent.submission_confirmation
    assert item is not None and item.media_type == "image/png"
    event = AuditEvent.objects.get(action="notice.submitted", object_id=str(notice.pk))
    assert event.data["confirmation_sha256"] == item.sha256


def test_a_confirmation_that_is_not_an_image_or_pdf_is_refused(make_notice, web_form, bob) -> None:  # type: ignore[no-untyped-def]
    notice = _finalised(make_notice)
    with time_machine.travel(SUBMITTED, tick=False), pytest.raises(NoticeError):
        notice_record_submission(
            notice=notice,
            actor=bob,
            platform_reference="R-9",
            confirmation=io.BytesIO(b"<html><script>x</script></html>"),
            confirmation_name="confirmation.html",
        )
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.AWAITING_SUBMISSION


# --------------------------------------------------------------------------- pages


def test_the_pages_say_awaiting_submission_until_it_is_recorded(
    client, bob, make_notice, web_form, mailoutbox
) -> None:  # type: ignore[no-untyped-def]
    notice = make_notice(LegalBasis.PLATFORM_POLICY, channel="web_form")
    client.force_login(bob)

    with time_machine.travel(T0, tick=False):
        response = client.post(f"/notices/{notice.pk}/send/")
    assert response["Location"] == f"/notices/{notice.pk}/checklist/"
    checklist = client.get(response["Location"]).content.decode()
    assert 'data-notice-status="awaiting_submission"' in checklist
    assert "Ready, awaiting submission" in checklist
    assert f"/notices/{notice.pk}/submission/" in checklist
    detail = client.get(f"/notices/{notice.pk}/").content.decode()
    assert 'data-notice-status="awaiting_submission"' in detail
    assert 'data-notice-status="sent"' not in detail
    assert "Not yet: nobody has recorded the submission" in detail
    listing = client.get("/notices/?status=awaiting_submission").content.decode()
    assert f"/notices/{notice.pk}/" in listing

    bad = client.post(f"/notices/{notice.pk}/submission/", {"platform_reference": ""})
    assert bad.status_code == 200 and "required" in bad.content.decode()

    with time_machine.travel(SUBMITTED, tick=False):
        done = client.post(
            f"/notices/{notice.pk}/submission/",
            {
                "platform_reference": "WF-777",
                "submitted_at": "2026-06-02T14:30",
                "confirmation": _upload(),
            },
        )
    assert done.status_code == 302, re.findall(r"errorlist[^<]*<li>([^<]*)", done.content.decode())
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.SENT and notice.platform_reference == "WF-777"
    # The form's time is the site's time zone (Asia/Seoul): 14:30 KST is 05:30 UTC.
    assert notice.sent_at == datetime(2026, 6, 2, 5, 30, tzinfo=UTC)
    assert notice.submission_confirmation is not None
    page = client.get(f"/notices/{notice.pk}/").content.decode()
    assert 'data-notice-status="sent"' in page and "WF-777" in page


def _upload():  # type: ignore[no-untyped-def]
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("confirmation.png", _png(), content_type="image/png")


def test_viewers_cannot_record_a_submission(client, carol, make_notice, web_form) -> None:  # type: ignore[no-untyped-def]
    notice = _finalised(make_notice)
    client.force_login(carol)
    response = client.post(f"/notices/{notice.pk}/submission/", {"platform_reference": "R"})
    assert response.status_code == 403
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.AWAITING_SUBMISSION


def test_the_dashboard_shows_awaiting_submission_apart_from_sent(
    client, carol, make_notice, web_form
) -> None:  # type: ignore[no-untyped-def]
    _finalised(make_notice)
    client.force_login(carol)
    page = client.get("/stats/").content.decode()
    assert 'data-notice-count="sent">0<' in page
    assert 'data-notice-count="awaiting_submission">1<' in page


# --------------------------------------------------------------------------- API


def _api(user) -> APIClient:  # type: ignore[no-untyped-def]
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_api_shows_the_state_and_records_the_submission(
    make_notice, web_form, bob, carol, mallory
) -> None:  # type: ignore[no-untyped-def]
    notice = make_notice(LegalBasis.EU_DSA_16, channel="web_form")
    client = _api(bob)
    with time_machine.travel(T0, tick=False):
        finalised = client.post(f"/api/notices/{notice.pk}/send/").json()
    assert finalised["status"] == "awaiting_submission" and finalised["sent_at"] is None
    assert finalised["finalised_at"] is not None

    assert _api(carol).post(f"/api/notices/{notice.pk}/submission/", {}).status_code == 403
    assert _api(mallory).post(f"/api/notices/{notice.pk}/submission/", {}).status_code == 404
    with time_machine.travel(SUBMITTED, tick=False):
        missing = client.post(f"/api/notices/{notice.pk}/submission/", {}, format="json")
        assert missing.status_code == 400 and "platform_reference" in missing.json()
        future = client.post(
            f"/api/notices/{notice.pk}/submission/",
            {"platform_reference": "D-1", "submitted_at": "2027-01-01T00:00:00Z"},
            format="json",
        )
        assert future.status_code == 400 and "future" in future.json()["detail"]
        done = client.post(
            f"/api/notices/{notice.pk}/submission/",
            {"platform_reference": "D-1", "submitted_at": SUBMITTED.isoformat()},
            format="json",
        )
    assert done.status_code == 200, done.json()
    body = done.json()
    assert body["status"] == "sent" and body["platform_reference"] == "D-1"
    assert datetime.fromisoformat(body["sent_at"]) == SUBMITTED


def test_the_openapi_schema_documents_the_submission_action(client, bob) -> None:  # type: ignore[no-untyped-def]
    client.force_login(bob)
    schema = client.get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/notices/{id}/submission/"]["post"]
    request_schemas = str(operation["requestBody"])
    assert "NoticeSubmission" in request_schemas
    submission = schema["components"]["schemas"]["NoticeSubmission"]
    assert submission["required"] == ["platform_reference"]
    assert "awaiting_submission" in str(schema["components"]["schemas"])
