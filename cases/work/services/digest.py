"""The optional daily e-mail digest: each member who opted in gets, once a day in the
language she chose, her unread notifications, her open tasks due within a week (or
overdue), her cases' deadlines this week and the notices due within a week: what "My work"
shows, read through the same scoped selectors, so another agency's data never appears.

The hourly beat sweep (digest_queue_due) queues one mail task per member through the
outbox once the agency's day (in the agency's own time zone) has reached DIGEST_HOUR; the task (digest_send) claims the day
on the subscription row before it sends, so a re-run, a duplicate message or a second
worker the same day sends nothing. A day with nothing to report sends no mail (the day is
still marked handled): an empty digest every morning would teach people to ignore it."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation

from cases.kernel.models import Agency
from cases.kernel.outbox import outbox_enqueue_many
from cases.kernel.times import agency_zone, zone_named
from cases.legal.models import CaseDeadline
from cases.notices.models import Notice
from cases.work.models import DigestSubscription, Notification, Task
from cases.work.selectors import my_work_for, notifications_for

log = logging.getLogger(__name__)

DIGEST_MAIL_TASK = "cases.work.tasks.digest_mail_task"
# Unread notifications listed one by one; the rest are counted.
DIGEST_NOTIFICATIONS_SHOWN = 10


@dataclass
class Digest:
    """What one member's digest says."""

    unread: list[Notification] = field(default_factory=list)
    unread_count: int = 0
    tasks: list[Task] = field(default_factory=list)
    deadlines: list[CaseDeadline] = field(default_factory=list)
    notices_due: list[Notice] = field(default_factory=list)

    @property
    def more(self) -> int:
        return self.unread_count - len(self.unread)

    @property
    def empty(self) -> bool:
        return not (self.unread_count or self.tasks or self.deadlines or self.notices_due)


def digest_subscription_set(
    *, user: User, agency: Agency, enabled: bool, language: str
) -> DigestSubscription:
    """Opt in or out (the "My work" page). Changing the language keeps the day's claim."""
    subscription, _created = DigestSubscription.objects.update_or_create(
        user=user, defaults={"agency": agency, "enabled": enabled, "language": language}
    )
    return subscription


def digest_build(*, user: User, today: date) -> Digest:
    work = my_work_for(user)
    unread = notifications_for(user).filter(read_at__isnull=True)
    week_end = today + timedelta(days=7)
    return Digest(
        unread=list(unread[:DIGEST_NOTIFICATIONS_SHOWN]),
        unread_count=unread.count(),
        tasks=[t for t in work.tasks if t.due_on is not None and t.due_on <= week_end],
        deadlines=work.deadlines,
        notices_due=work.notices_due,
    )


def _local_now(zone_name: str, now: datetime | None) -> datetime:
    """`now` in the agency's time zone (the deployment's for an empty or unknown name)."""
    return timezone.localtime(now or timezone.now(), zone_named(zone_name))


def digest_queue_due(*, now: datetime | None = None) -> int:
    """The beat sweep: queue a digest for every opted-in active member not yet handled
    today, once her agency's day (in its own time zone) has reached DIGEST_HOUR. Returns
    how many were queued."""
    subscriptions = DigestSubscription.objects.filter(
        enabled=True, user__is_active=True
    ).values_list("user_id", "sent_on", "agency__time_zone")
    ids = []
    for user_id, sent_on, zone_name in subscriptions:
        local = _local_now(zone_name, now)
        if local.hour >= settings.DIGEST_HOUR and (sent_on is None or sent_on < local.date()):
            ids.append(user_id)
    outbox_enqueue_many(DIGEST_MAIL_TASK, [{"user_id": user_id} for user_id in ids])
    return len(ids)


def digest_send(*, user_id: int, now: datetime | None = None) -> bool:
    """Send one member's digest for today, at most once: the day is claimed on the locked
    subscription row in the same transaction as the send, so a relay that refuses rolls the
    claim back (the next sweep tries again) and a second run finds the day taken. Returns
    whether a mail was sent."""
    with transaction.atomic():
        subscription = (
            DigestSubscription.objects.select_for_update()
            .select_related("user", "agency")
            .filter(user_id=user_id, enabled=True, user__is_active=True)
            .first()
        )
        if subscription is None:
            return False
        # The agency's day: its date, and its zone for every time the mail shows.
        today = _local_now(subscription.agency.time_zone, now).date()
        if subscription.sent_on and subscription.sent_on >= today:
            return False
        user = subscription.user
        # Her membership may have moved: the digest is only for the agency she opted in.
        if (
            not user.email
            or not Agency.objects.filter(pk=subscription.agency_id, memberships__user=user).exists()
        ):
            subscription.sent_on = today
            subscription.save(update_fields=["sent_on"])
            return False
        digest = digest_build(user=user, today=today)
        subscription.sent_on = today
        subscription.save(update_fields=["sent_on"])
        if digest.empty:
            return False
        with translation.override(subscription.language), agency_zone(subscription.agency):
            context = {
                "digest": digest,
                "username": user.get_username(),
                "today": today,
                "link": settings.SITE_URL.rstrip("/") + reverse("my_work"),
            }
            subject = "".join(
                render_to_string("cases/email/digest_subject.txt", context).split("\n")
            )
            body = render_to_string("cases/email/digest.txt", context)
        EmailMessage(subject=subject, body=body, to=[user.email]).send()
    log.info("daily digest sent to user %s", user_id)
    return True
