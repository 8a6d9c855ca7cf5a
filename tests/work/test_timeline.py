"""The case timeline: everything that happened to a case and its findings, in words, in a
bounded number of queries, a page at a time."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from cases.evidence.models import Capture, CaptureStatus, CustodyAction, EvidenceKind
from cases.evidence.services.captures import capture_request
from cases.evidence.services.evidence import custody_record, evidence_ingest
from cases.intake.services.findings import finding_set_status
from cases.kernel.models import AuditEvent
from cases.legal.services.legal_cases import case_create, case_deadline_add, case_link_findings
from cases.notices.models import Notice, NoticeStatus
from cases.notices.services.drafts import notice_create
from cases.work.services.comments import comment_add
from cases.work.timeline import TIMELINE_PAGE
from detection.models import DetectionReview, ReviewVerdict
from tests.cases.test_views_i18n import korean_catalog  # noqa: F401 - fixture
from tests.factories import ArtistFactory, make_finding


@pytest.fixture
def case(agency, bob, finding):  # type: ignore[no-untyped-def]
    return case_create(agency=agency, actor=bob, title="Deepfake ring", findings=[finding])


def _story(agency, bob, case, finding):  # type: ignore[no-untyped-def]
    """A failed capture, stored evidence, a reveal, a verdict, a notice answered by the
    platform, a removal and a reappearance, a deadline and a comment."""
    capture = capture_request(finding=finding, actor=bob)
    Capture.objects.filter(pk=capture.pk).update(
        status=CaptureStatus.FAILED, outcome="dns_error", finished_at=timezone.now()
    )
    evidence, _ = evidence_ingest(
        agency=agency,
        data=b"timeline evidence bytes",
        kind=EvidenceKind.UPLOAD,
        collected_by=bob,
        finding=finding,
        original_name="screenshot.png",
    )
    custody_record(
        evidence=evidence, action=CustodyAction.REVEALED, actor=bob, reason="check the face"
    )
    DetectionReview.objects.create(
        agency=agency, evidence=evidence, verdict=ReviewVerdict.CONFIRMED_FAKE, reviewer=bob
    )
    notice = notice_create(
        agency=agency, actor=bob, findings=[finding], legal_basis="platform_policy"
    )
    now = timezone.now()
    Notice.objects.filter(pk=notice.pk).update(
        status=NoticeStatus.ACTIONED,
        rendered_sha256="0" * 64,
        sent_at=now,
        closed_at=now + timedelta(hours=1),
    )
    finding_set_status(finding=finding, status="captured", actor=bob)
    finding_set_status(finding=finding, status="removed", actor=bob)
    finding_set_status(finding=finding, status="reappeared", actor=bob)
    case_deadline_add(case=case, actor=bob, title="Hearing", due_on=date(2031, 3, 1))
    comment_add(author=bob, body="Counsel has the file.", case=case)


def test_the_timeline_tells_the_whole_story_in_words(client, agency, bob, carol, case, finding):
    _story(agency, bob, case, finding)
    client.force_login(carol)
    content = client.get(reverse("case_detail", args=[case.pk])).content.decode()
    for words in (
        "Case opened",
        "Finding recorded",
        "Capture failed",
        "Host name could not be resolved",
        "Evidence stored",
        "screenshot.png",
        "Media shown unblurred",
        "check the face",
        "Detection verdict: Confirmed fake",
        "Notice sent to YouTube",
        "Platform removed the content",
        "Removed from the platform",
        "Online again (reappeared)",
        "Deadline due: Hearing",
        "Counsel has the file.",
    ):
        assert words in content, words
    # No audit codes or machine text.
    for code in ("notice.created", "finding.status_changed", "case.created", "dns_error"):
        assert code not in content, code
    # A failed capture is shown as failed.
    assert 'class="timeline-capture failed"' in content


def test_a_successful_capture_is_not_shown_as_failed(client, agency, bob, carol, case, finding):
    capture = capture_request(finding=finding, actor=bob)
    Capture.objects.filter(pk=capture.pk).update(
        status=CaptureStatus.DONE, outcome="ok", http_status=200, finished_at=timezone.now()
    )
    client.force_login(carol)
    content = client.get(reverse("case_detail", args=[case.pk])).content.decode()
    assert "Page captured" in content
    assert "HTTP status 200" in content
    assert "timeline-capture failed" not in content


def test_the_case_page_costs_the_same_queries_however_long_the_case(
    client, agency, bob, carol, case, finding, django_assert_max_num_queries
):
    _story(agency, bob, case, finding)
    client.force_login(carol)
    client.get(reverse("case_detail", args=[case.pk]))  # warm the session and caches
    with django_assert_max_num_queries(45) as small:
        client.get(reverse("case_detail", args=[case.pk]))
    more = [
        make_finding(agency, f"https://www.youtube.com/watch?v=more{n}", actor=bob)
        for n in range(12)
    ]
    case_link_findings(case=case, actor=bob, findings=more)
    for other in more:
        _story(agency, bob, case, other)
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(reverse("case_detail", args=[case.pk]))
    assert response.status_code == 200


def test_a_long_timeline_is_shown_a_page_at_a_time(client, agency, bob, carol, case):
    findings = [
        make_finding(agency, f"https://vimeo.com/long-{n}", actor=bob)
        for n in range(TIMELINE_PAGE + 5)
    ]
    case_link_findings(case=case, actor=bob, findings=findings)
    client.force_login(carol)
    content = client.get(reverse("case_detail", args=[case.pk])).content.decode()
    more_url = reverse("case_timeline", args=[case.pk]) + "?page=2"
    assert "Show older entries" in content
    assert more_url in content
    assert content.count('<li class="timeline-') == TIMELINE_PAGE + 1  # and "show older"
    # "Case opened" is the oldest entry: on the second page, fetched by htmx.
    assert "Case opened" not in content
    older = client.get(more_url, headers={"HX-Request": "true"}).content.decode()
    assert "Case opened" in older
    assert "<html" not in older
    assert "Show older entries" not in older
    # Without htmx the same page is a whole page.
    assert "<html" in client.get(more_url).content.decode()


def test_another_agencys_case_timeline_is_not_found(client, mallory, case):
    client.force_login(mallory)
    assert client.get(reverse("case_timeline", args=[case.pk])).status_code == 404


def test_linked_findings_bring_their_artists_to_the_case(client, agency, bob, carol):
    yuna = ArtistFactory(agency=agency, stage_name="Yuna")
    mina = ArtistFactory(agency=agency, stage_name="Mina")
    case = case_create(agency=agency, actor=bob, title="Empty")
    assert not case.artists.exists()
    finding = make_finding(agency, "https://vimeo.com/art", actor=bob, artists=[yuna, mina])
    case_link_findings(case=case, actor=bob, findings=[finding])
    assert set(case.artists.all()) == {yuna, mina}
    event = AuditEvent.objects.get(action="case.artists_added")
    assert event.data["artists"] == sorted([yuna.pk, mina.pk], key=lambda pk: pk) or set(
        event.data["artists"]
    ) == {yuna.pk, mina.pk}
    client.force_login(carol)
    content = client.get(reverse("case_detail", args=[case.pk])).content.decode()
    assert "Artists added from linked findings" in content
    assert reverse("artist_detail", args=[yuna.pk]) in content
    # Linking again adds nothing and records nothing.
    case_link_findings(
        case=case,
        actor=bob,
        findings=[make_finding(agency, "https://vimeo.com/art2", actor=bob, artists=[yuna])],
    )
    assert AuditEvent.objects.filter(action="case.artists_added").count() == 1


def test_a_case_opened_with_findings_takes_their_artists(agency, bob, finding, artist):
    case = case_create(agency=agency, actor=bob, title="With findings", findings=[finding])
    assert list(case.artists.all()) == [artist]


def test_the_timeline_speaks_korean(client, agency, bob, carol, case, finding, korean_catalog):  # noqa: F811
    capture = capture_request(finding=finding, actor=bob)
    Capture.objects.filter(pk=capture.pk).update(
        status=CaptureStatus.FAILED, outcome="dns_error", finished_at=timezone.now()
    )
    comment_add(author=bob, body="@carol 확인 부탁", case=case)
    client.force_login(carol)
    client.post(reverse("set_language"), {"language": "ko"})
    content = client.get(reverse("case_detail", args=[case.pk])).content.decode()
    assert "수집 실패" in content
    assert "이전 항목 더 보기" not in content  # a short case has one page
    bell = client.get(reverse("notification_bell")).content.decode()
    assert "새 알림 1건" in bell
    assert "Capture failed" not in content


def test_a_page_far_beyond_the_end_reads_nothing(
    client, carol, case, django_assert_max_num_queries
):
    client.force_login(carol)
    url = reverse("case_timeline", args=[case.pk])
    assert "Case opened" in client.get(url + "?page=1").content.decode()
    with django_assert_max_num_queries(12):  # session, user, membership, case: no source
        response = client.get(url + "?page=1000000")
    assert response.status_code == 200
    assert "Nothing more." in response.content.decode()
