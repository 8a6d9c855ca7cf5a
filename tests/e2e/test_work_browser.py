"""A case as the centre of work, in real Chromium: the timeline shows the notice and the
removal; a comment mentioning Alice notifies her; her "my work" page lists her task."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from cases.intake.services.findings import finding_set_status
from cases.legal.services.legal_cases import case_create
from cases.notices.models import Notice, NoticeStatus
from cases.notices.services.drafts import notice_create
from cases.work.services.tasks import task_add
from tests.e2e.test_browser import _log_in, browser, page  # noqa: F401 - fixtures
from tests.twofactor_helpers import enrol

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_case_page_is_where_the_work_happens(
    page,  # noqa: F811 - the fixture imported above
    agency,
    alice,
    bob,
    finding,
) -> None:
    case = case_create(agency=agency, actor=bob, title="Deepfake ring", findings=[finding])
    notice = notice_create(
        agency=agency, actor=bob, findings=[finding], legal_basis="platform_policy"
    )
    now = timezone.now()
    Notice.objects.filter(pk=notice.pk).update(
        status=NoticeStatus.ACTIONED,
        rendered_sha256="0" * 64,
        sent_at=now,
        closed_at=now + timedelta(minutes=5),
    )
    finding_set_status(finding=finding, status="captured", actor=bob)
    finding_set_status(finding=finding, status="removed", actor=bob)
    task_add(actor=bob, title="Draft the complaint", assignee=alice, case=case)
    alice_device, _codes = enrol(alice)  # an admin logs in with a second step

    _log_in(page, "bob")
    page.goto(f"/cases/{case.pk}/")
    timeline = page.locator("#timeline ol.timeline")
    text = timeline.inner_text()
    assert "Notice sent to YouTube" in text
    assert "Platform removed the content" in text
    assert "Removed from the platform" in text

    page.fill("#comment-body", "@alice can you file this today?")
    page.get_by_role("button", name="Add comment").click()
    page.wait_for_url(f"**/cases/{case.pk}/")
    assert page.locator("#timeline .mention").inner_text() == "@alice"

    page.get_by_role("button", name="Log out").click()
    _log_in(page, "alice", device=alice_device)
    # The bell's count arrives by htmx after the page: the task and the mention.
    bell = page.locator("a.notification-bell", has_text="2 new notifications")
    bell.wait_for()
    bell.click()
    assert "can you file this today?" in page.locator("main").inner_text()
    page.get_by_role("button", name="Mark all read").click()
    page.locator("a.notification-bell", has_text="0 new notifications").wait_for()

    page.get_by_role("link", name="My work").click()
    assert "Draft the complaint" in page.locator("#my-tasks").inner_text()
