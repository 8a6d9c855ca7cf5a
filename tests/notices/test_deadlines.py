"""Done-when 3: deadline reminders and escalations fire at the right times, once, under a
frozen clock; silence long after the deadline closes a notice as "no response"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from cases.kernel.models import AuditEvent
from cases.notices.bases import due_after
from cases.notices.models import LegalBasis, Notice, NoticeStatus
from cases.notices.services.deadlines import (
    notice_deadlines_check,
    notice_deadlines_close_unanswered,
    notice_deadlines_escalate,
    notice_deadlines_remind,
)
from cases.notices.services.outcomes import notice_acknowledge
from cases.notices.services.sending import notice_send
from cases.notices.tasks import notice_deadlines_check as deadlines_task

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 6, 1, 0, 0, tzinfo=UTC)


def _at(moment: datetime):  # type: ignore[no-untyped-def]
    with time_machine.travel(moment, tick=False):
        return notice_deadlines_check()


def _sent(make_notice, basis: str) -> Notice:  # type: ignore[no-untyped-def]
    with time_machine.travel(T0, tick=False):
        return notice_send(notice=make_notice(basis), actor=None)


def test_take_it_down_notices_are_due_48_hours_after_sending(make_notice) -> None:  # type: ignore[no-untyped-def]
    notice = _sent(make_notice, LegalBasis.TAKE_IT_DOWN)
    assert notice.sent_at == T0
    assert notice.due_at == T0 + timedelta(hours=48)


def test_due_dates_follow_the_basis_the_settings_and_the_platform(settings, host_platform) -> None:  # type: ignore[no-untyped-def]
    assert due_after(LegalBasis.DMCA_512C3) == timedelta(hours=72)
    assert due_after(LegalBasis.EU_DSA_16) == timedelta(days=7)
    settings.NOTICE_DUE_HOURS = {"eu_dsa_16": 120}
    assert due_after(LegalBasis.EU_DSA_16) == timedelta(hours=120)
    assert due_after(LegalBasis.DMCA_512C3, platform_hours=24) == timedelta(hours=24)
    # A platform cannot stretch a statutory deadline.
    assert due_after(LegalBasis.TAKE_IT_DOWN, platform_hours=96) == timedelta(hours=48)


def test_the_assignee_is_reminded_once_a_day_before_and_admins_are_told_once_after(
    make_notice, mailoutbox, bob, alice
) -> None:  # type: ignore[no-untyped-def]
    notice = _sent(make_notice, LegalBasis.TAKE_IT_DOWN)
    mailoutbox.clear()

    assert _at(T0 + timedelta(hours=23, minutes=59)).reminded == []
    assert mailoutbox == []

    report = _at(T0 + timedelta(hours=24))  # 24 h before the deadline
    assert report.reminded == [notice.pk] and report.escalated == []
    assert [m.to for m in mailoutbox] == [[bob.email]]
    assert "due soon" in mailoutbox[0].subject

    assert _at(T0 + timedelta(hours=30)).reminded == []  # never twice
    assert _at(T0 + timedelta(hours=47, minutes=59)).escalated == []
    assert len(mailoutbox) == 1

    report = _at(T0 + timedelta(hours=48))
    assert report.escalated == [notice.pk] and report.reminded == []
    assert mailoutbox[1].to == [alice.email]
    assert "overdue" in mailoutbox[1].subject

    assert _at(T0 + timedelta(hours=60)).escalated == []
    assert len(mailoutbox) == 2

    notice.refresh_from_db()
    assert notice.reminder_sent_at == T0 + timedelta(hours=24)
    assert notice.escalated_at == T0 + timedelta(hours=48)
    actions = list(
        AuditEvent.objects.filter(object_type="notice", object_id=str(notice.pk))
        .order_by("seq")
        .values_list("action", flat=True)
    )
    assert actions == ["notice.created", "notice.sent", "notice.reminder_sent", "notice.escalated"]


def test_a_notice_nobody_answers_becomes_no_response_after_the_grace_period(
    settings, make_notice, mailoutbox
) -> None:  # type: ignore[no-untyped-def]
    settings.NOTICE_NO_RESPONSE_AFTER = timedelta(days=14)
    silent = _sent(make_notice, LegalBasis.DMCA_512C3)
    answered = _sent(make_notice, LegalBasis.DMCA_512C3)
    notice_acknowledge(notice=answered, actor=None, platform_reference="R-1")
    due = silent.due_at

    assert _at(due + timedelta(days=14) - timedelta(minutes=1)).no_response == []
    report = _at(due + timedelta(days=14))
    assert report.no_response == [silent.pk]

    silent.refresh_from_db()
    answered.refresh_from_db()
    assert silent.status == NoticeStatus.NO_RESPONSE and silent.closed_at == due + timedelta(
        days=14
    )
    assert answered.status == NoticeStatus.ACKNOWLEDGED
    assert _at(due + timedelta(days=20)).no_response == []


def test_closed_notices_and_drafts_get_no_reminders(make_notice) -> None:  # type: ignore[no-untyped-def]
    make_notice(LegalBasis.TAKE_IT_DOWN)  # a draft has no deadline
    notice = _sent(make_notice, LegalBasis.TAKE_IT_DOWN)
    Notice.objects.filter(pk=notice.pk).update(status=NoticeStatus.ACTIONED)
    report = _at(T0 + timedelta(hours=47))
    assert report.reminded == [] and report.escalated == []


def test_the_beat_task_is_scheduled_and_runs_the_sweep(settings, make_notice) -> None:  # type: ignore[no-untyped-def]
    entry = settings.CELERY_BEAT_SCHEDULE["notice-deadlines-check"]
    assert entry["task"] == "cases.notices.tasks.notice_deadlines_check"
    _sent(make_notice, LegalBasis.TAKE_IT_DOWN)
    with time_machine.travel(T0 + timedelta(hours=49), tick=False):
        result = deadlines_task.apply().get()
    assert result == {"reminded": 0, "escalated": 1, "no_response": 0}


def test_each_sweep_does_only_its_own_work(make_notice, mailoutbox, settings, bob) -> None:  # type: ignore[no-untyped-def]
    notice = _sent(make_notice, LegalBasis.TAKE_IT_DOWN)
    mailoutbox.clear()
    soon = T0 + timedelta(hours=24)
    assert notice_deadlines_escalate(now=soon) == []
    assert notice_deadlines_close_unanswered(now=soon) == []
    assert notice_deadlines_remind(now=soon) == [notice.pk]
    assert [m.to for m in mailoutbox] == [[bob.email]]

    silent = T0 + timedelta(hours=48) + settings.NOTICE_NO_RESPONSE_AFTER
    assert notice_deadlines_remind(now=silent) == []  # past the deadline: no reminder
    assert notice_deadlines_close_unanswered(now=silent) == [notice.pk]
    assert notice_deadlines_escalate(now=silent) == []  # closed: nothing to escalate
    notice.refresh_from_db()
    assert notice.status == NoticeStatus.NO_RESPONSE
    assert notice.escalated_at is None
