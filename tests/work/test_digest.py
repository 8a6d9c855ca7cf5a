"""The optional daily e-mail digest: opt-in only, at most once a day, nothing on a day with
nothing to report, in the member's language, never another agency's data."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from cases.kernel.models import OutboxMessage
from cases.legal.services.legal_cases import case_create
from cases.work.models import DigestSubscription
from cases.work.services.comments import comment_add
from cases.work.services.digest import (
    DIGEST_MAIL_TASK,
    digest_queue_due,
    digest_send,
    digest_subscription_set,
)
from cases.work.services.tasks import task_add
from tests.cases.test_views_i18n import korean_catalog  # noqa: F401 - fixture
from tests.factories import make_finding

pytestmark = pytest.mark.django_db


def _at(hour: int, days: int = 0) -> datetime:
    local = timezone.localtime().replace(hour=hour, minute=5, second=0, microsecond=0)
    return local + timedelta(days=days)


@pytest.fixture
def subscribed(alice, agency):  # type: ignore[no-untyped-def]
    return digest_subscription_set(user=alice, agency=agency, enabled=True, language="en")


def _give_alice_work(agency, alice, bob, finding):  # type: ignore[no-untyped-def]
    case = case_create(agency=agency, actor=bob, title="Deepfake ring", findings=[finding])
    task_add(
        actor=bob,
        title="Draft the complaint",
        assignee=alice,
        case=case,
        due_on=timezone.localdate() + timedelta(days=2),
    )
    comment_add(author=bob, body="@alice please look at this one", finding=finding)
    return case


def test_an_opted_in_member_gets_her_work_once_a_day(agency, alice, bob, finding, subscribed):
    _give_alice_work(agency, alice, bob, finding)
    assert digest_send(user_id=alice.pk, now=_at(9)) is True
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [alice.email]
    assert "2 unread notifications" in message.body
    assert "please look at this one" in message.body
    assert "Draft the complaint" in message.body
    assert reverse("my_work") in message.body
    # The same day again: nothing, however often the task runs.
    assert digest_send(user_id=alice.pk, now=_at(10)) is False
    assert digest_send(user_id=alice.pk, now=_at(23)) is False
    assert len(mail.outbox) == 1
    subscribed.refresh_from_db()
    assert subscribed.sent_on == _at(9).date()
    # The next day she hears again (her work is still there).
    assert digest_send(user_id=alice.pk, now=_at(9, days=1)) is True
    assert len(mail.outbox) == 2


def test_not_opted_in_means_no_mail(agency, alice, bob, finding):
    _give_alice_work(agency, alice, bob, finding)
    assert digest_send(user_id=alice.pk, now=_at(9)) is False
    digest_subscription_set(user=alice, agency=agency, enabled=False, language="en")
    assert digest_send(user_id=alice.pk, now=_at(9)) is False
    assert digest_queue_due(now=_at(9)) == 0
    assert mail.outbox == []


def test_nothing_to_report_sends_no_mail_but_marks_the_day(alice, subscribed):
    assert digest_send(user_id=alice.pk, now=_at(9)) is False
    assert mail.outbox == []
    subscribed.refresh_from_db()
    assert subscribed.sent_on == _at(9).date()


def test_another_agencys_work_never_reaches_my_digest(
    agency, other_agency, alice, bob, mallory, finding, subscribed
):
    _give_alice_work(agency, alice, bob, finding)
    theirs = make_finding(
        other_agency, "https://www.youtube.com/watch?v=nebula-secret", actor=mallory
    )
    case_create(
        agency=other_agency, actor=mallory, title="Nebula private matter", findings=[theirs]
    )
    task_add(
        actor=mallory,
        title="Nebula secret task",
        assignee=mallory,
        finding=theirs,
        due_on=timezone.localdate(),
    )
    comment_add(author=mallory, body="@mallory nebula-only comment", finding=theirs)
    digest_subscription_set(user=mallory, agency=other_agency, enabled=True, language="en")
    assert digest_send(user_id=alice.pk, now=_at(9)) is True
    assert digest_send(user_id=mallory.pk, now=_at(9)) is True
    alice_mail, mallory_mail = mail.outbox
    assert "Nebula" not in alice_mail.body and "nebula" not in alice_mail.body
    assert "Nebula secret task" in mallory_mail.body
    assert "Draft the complaint" not in mallory_mail.body
    assert "please look at this one" not in mallory_mail.body


def test_the_digest_is_in_the_chosen_language(agency, alice, bob, finding, korean_catalog):  # noqa: F811
    _give_alice_work(agency, alice, bob, finding)
    digest_subscription_set(user=alice, agency=agency, enabled=True, language="ko")
    assert digest_send(user_id=alice.pk, now=_at(9)) is True
    assert "일일 요약" in mail.outbox[0].body


def test_the_sweep_queues_each_due_member_once_after_the_hour(
    settings, agency, alice, bob, subscribed
):
    settings.DIGEST_HOUR = 8
    assert digest_queue_due(now=_at(7)) == 0  # before the hour
    assert digest_queue_due(now=_at(8)) == 1
    queued = OutboxMessage.objects.filter(task=DIGEST_MAIL_TASK)
    assert [row.kwargs for row in queued] == [{"user_id": alice.pk}]
    DigestSubscription.objects.filter(pk=subscribed.pk).update(sent_on=_at(8).date())
    assert digest_queue_due(now=_at(12)) == 0  # handled today
    bob.is_active = False
    bob.save()
    digest_subscription_set(user=bob, agency=agency, enabled=True, language="en")
    assert digest_queue_due(now=_at(8, days=1)) == 1  # alice; bob is deactivated


def test_a_refusing_relay_leaves_the_day_open_for_a_retry(
    monkeypatch, agency, alice, bob, finding, subscribed
):
    _give_alice_work(agency, alice, bob, finding)

    def refuse(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise OSError("relay down")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", refuse)
    with pytest.raises(OSError):
        digest_send(user_id=alice.pk, now=_at(9))
    subscribed.refresh_from_db()
    assert subscribed.sent_on is None
    monkeypatch.undo()
    assert digest_send(user_id=alice.pk, now=_at(10)) is True


def test_my_work_page_opts_in_and_out(client, bob, agency):
    client.force_login(bob)
    page = client.get(reverse("my_work")).content.decode()
    assert "Daily digest" in page and 'name="enabled"' in page
    client.post(reverse("digest_settings"), {"enabled": "on", "language": "ko"})
    subscription = DigestSubscription.objects.get(user=bob)
    assert subscription.enabled and subscription.language == "ko"
    assert subscription.agency == agency
    client.post(reverse("digest_settings"), {"language": "en"})
    subscription.refresh_from_db()
    assert not subscription.enabled


def test_beat_runs_the_sweep_and_the_outbox_names_the_mail_task(settings):
    from cases.work.tasks import digest_due_task, digest_mail_task

    assert settings.CELERY_BEAT_SCHEDULE["work-digest-due"]["task"] == digest_due_task.name
    assert digest_mail_task.name == DIGEST_MAIL_TASK
    assert "cases.work.tasks" in settings.CELERY_IMPORTS


def _utc(day: int, hour: int) -> datetime:
    return datetime(2026, 12, day, hour, 5, tzinfo=UTC)


def test_the_digest_follows_the_agency_time_zone_not_the_deployment(
    settings, agency, alice, bob, finding, subscribed
):
    # 00:05 UTC on 2 December is 09:05 in Seoul (the deployment's zone) but 00:05 in
    # London: a London agency's morning has not come; 23:05 UTC on the 1st is still the 1st
    # there, the day its digest is for.
    settings.DIGEST_HOUR = 8
    agency.time_zone = "Europe/London"
    agency.save(update_fields=["time_zone"])
    assert digest_queue_due(now=_utc(2, 0)) == 0
    assert digest_queue_due(now=_utc(2, 8)) == 1
    OutboxMessage.objects.all().delete()
    _give_alice_work(agency, alice, bob, finding)
    assert digest_send(user_id=alice.pk, now=_utc(1, 23)) is True
    subscribed.refresh_from_db()
    assert subscribed.sent_on == date(2026, 12, 1)
    assert digest_queue_due(now=_utc(2, 7)) == 0  # 07:05 on the 2nd in London
    assert digest_queue_due(now=_utc(2, 8)) == 1
    agency.time_zone = "Asia/Seoul"
    agency.save(update_fields=["time_zone"])
    assert digest_queue_due(now=_utc(1, 23)) == 1  # already 08:05 on the 2nd in Seoul
