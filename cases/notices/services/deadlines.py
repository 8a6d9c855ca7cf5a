"""The deadline sweep of sent notices (the beat task), one function per sweep:
- remind the assignee NOTICE_REMINDER_BEFORE before the deadline,
- escalate to the agency's admins once the deadline has passed,
- close notices that got no answer at all NOTICE_NO_RESPONSE_AFTER past the deadline as
  "no response".
Idempotent: reminder_sent_at and escalated_at are set once, and a closed notice is no longer
open; a concurrent sweep never sends a message twice."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.kernel.audit.services import audit_record
from cases.kernel.models import Membership, Role
from cases.kernel.times import when
from cases.notices.models import OPEN_NOTICE_STATUSES, Notice, NoticeStatus
from cases.notices.services.errors import NoticeError
from cases.notices.services.outcomes import notice_close

log = logging.getLogger(__name__)


@dataclass
class DeadlineReport:
    reminded: list[int]
    escalated: list[int]
    no_response: list[int]


def _notify(recipients: list[str], subject: str, body: str) -> None:
    if not recipients:
        return
    try:
        EmailMessage(subject=subject, body=body, to=recipients).send()
    except Exception:
        # The audit event records the reminder; a mail outage must not stop the sweep.
        log.exception("could not e-mail a notice deadline message")


def _link(notice: Notice) -> str:
    return settings.SITE_URL.rstrip("/") + f"/notices/{notice.pk}/"


def _due(notice: Notice) -> str:
    return when(notice.due_at)


def notice_deadlines_remind(*, now: datetime) -> list[int]:
    """Remind the assignee (or the creator) of open notices due within
    NOTICE_REMINDER_BEFORE, once each. Returns the ids of the notices reminded."""
    reminded = []
    remind = Notice.objects.filter(
        status__in=OPEN_NOTICE_STATUSES,
        reminder_sent_at__isnull=True,
        due_at__gt=now,
        due_at__lte=now + settings.NOTICE_REMINDER_BEFORE,
    ).select_related("agency", "platform", "assignee", "created_by")
    for notice in remind:
        with transaction.atomic():
            if not Notice.objects.filter(pk=notice.pk, reminder_sent_at__isnull=True).update(
                reminder_sent_at=now
            ):
                continue  # a concurrent sweep took it
            person = notice.assignee or notice.created_by
            audit_record(
                agency=notice.agency,
                actor=None,
                action="notice.reminder_sent",
                obj=notice,
                data={
                    "due_at": notice.due_at.isoformat() if notice.due_at else None,
                    "to": person.get_username() if person else None,
                },
            )
            subject = _("Notice #%(id)s to %(platform)s is due soon") % {
                "id": notice.pk,
                "platform": notice.platform.name,
            }
            body = _("The deadline of notice #%(id)s is %(due)s.\n\n%(link)s") % {
                "id": notice.pk,
                "due": _due(notice),
                "link": _link(notice),
            }
            emails = [person.email] if person and person.email else []
        # After the row is marked: a crash in between loses one e-mail, never sends two.
        _notify(emails, subject, body)
        reminded.append(notice.pk)
    return reminded


def notice_deadlines_escalate(*, now: datetime) -> list[int]:
    """Tell the agency's active admins about open notices past their deadline, once each.
    Returns the ids of the notices escalated."""
    escalated = []
    overdue = Notice.objects.filter(
        status__in=OPEN_NOTICE_STATUSES, escalated_at__isnull=True, due_at__lte=now
    ).select_related("agency", "platform")
    for notice in overdue:
        with transaction.atomic():
            if not Notice.objects.filter(pk=notice.pk, escalated_at__isnull=True).update(
                escalated_at=now
            ):
                continue
            admins = list(
                Membership.objects.filter(
                    agency=notice.agency, role=Role.ADMIN, user__is_active=True
                ).values_list("user__email", flat=True)
            )
            audit_record(
                agency=notice.agency,
                actor=None,
                action="notice.escalated",
                obj=notice,
                data={
                    "due_at": notice.due_at.isoformat() if notice.due_at else None,
                    "admins": len(admins),
                },
            )
            subject = _("Notice #%(id)s to %(platform)s is overdue") % {
                "id": notice.pk,
                "platform": notice.platform.name,
            }
            body = _(
                "Notice #%(id)s passed its deadline (%(due)s) without removal.\n\n%(link)s"
            ) % {
                "id": notice.pk,
                "due": _due(notice),
                "link": _link(notice),
            }
            emails = [e for e in admins if e]
        _notify(emails, subject, body)
        escalated.append(notice.pk)
    return escalated


def notice_deadlines_close_unanswered(*, now: datetime) -> list[int]:
    """Close sent notices with no answer at all NOTICE_NO_RESPONSE_AFTER past their deadline
    as "no response". Returns the ids of the notices closed."""
    closed = []
    silent = Notice.objects.filter(
        status=NoticeStatus.SENT, due_at__lte=now - settings.NOTICE_NO_RESPONSE_AFTER
    )
    for notice in silent:
        note = _("No answer %(after)s after the deadline.") % {
            "after": settings.NOTICE_NO_RESPONSE_AFTER
        }
        try:
            notice_close(
                notice=notice, actor=None, outcome=NoticeStatus.NO_RESPONSE, note=note, at=now
            )
        except NoticeError:
            continue  # answered meanwhile
        closed.append(notice.pk)
    return closed


def notice_deadlines_check(*, now: datetime | None = None) -> DeadlineReport:
    """The beat task's work: the three sweeps, in this order, at one moment `now`."""
    now = now or timezone.now()
    reminded = notice_deadlines_remind(now=now)
    escalated = notice_deadlines_escalate(now=now)
    no_response = notice_deadlines_close_unanswered(now=now)
    return DeadlineReport(reminded=reminded, escalated=escalated, no_response=no_response)
