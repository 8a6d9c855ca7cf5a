"""After sending: the platform acknowledges the notice, and it closes as actioned (removed),
rejected or unanswered; a finding seen removed closes the notices it was the last open
finding of. Every change writes an audit event and tells the agency's webhooks."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.evidence.models import Capture, CaptureObservation
from cases.intake.models import Finding, FindingStatus
from cases.kernel.actor import Actor
from cases.kernel.audit.services import audit_record
from cases.notices.models import OPEN_NOTICE_STATUSES, Notice, NoticeStatus, WebhookEvent
from cases.notices.services.errors import NoticeError
from cases.notices.webhooks import webhook_emit

CLOSING = {
    NoticeStatus.ACTIONED: WebhookEvent.NOTICE_ACTIONED,
    NoticeStatus.REJECTED: WebhookEvent.NOTICE_REJECTED,
    NoticeStatus.NO_RESPONSE: WebhookEvent.NOTICE_NO_RESPONSE,
}


def notice_acknowledge(*, notice: Notice, actor: Actor, platform_reference: str = "") -> Notice:
    """The platform confirmed receipt (a reply, or the reference number its web form gave)."""
    with transaction.atomic():
        notice = (
            Notice.objects.select_for_update(of=("self",))
            .select_related("agency")
            .get(pk=notice.pk)
        )
        if notice.status != NoticeStatus.SENT:
            raise NoticeError(_("Only a sent notice can be acknowledged."))
        notice.status = NoticeStatus.ACKNOWLEDGED
        notice.acknowledged_at = timezone.now()
        # A blank answer keeps the reference recorded with a web-form submission.
        notice.platform_reference = platform_reference.strip()[:200] or notice.platform_reference
        notice.save()
        audit_record(
            agency=notice.agency,
            actor=actor,
            action="notice.acknowledged",
            obj=notice,
            data={"platform_reference": notice.platform_reference},
        )
        webhook_emit(notice=notice, event=WebhookEvent.NOTICE_ACKNOWLEDGED)
    return notice


def notice_close(
    *,
    notice: Notice,
    actor: Actor,
    outcome: str,
    note: str = "",
    capture: Capture | None = None,
    at: datetime | None = None,
) -> Notice:
    """Record the outcome: actioned (removed), rejected, or no response."""
    if outcome not in CLOSING:
        raise NoticeError(_("Unknown outcome."))
    with transaction.atomic():
        notice = (
            Notice.objects.select_for_update(of=("self",))
            .select_related("agency")
            .get(pk=notice.pk)
        )
        if notice.status not in OPEN_NOTICE_STATUSES:
            raise NoticeError(_("Only a sent or acknowledged notice can be closed."))
        old = notice.status
        notice.status = outcome
        notice.closed_at = at or timezone.now()
        notice.outcome_note = note.strip()
        if capture is not None:
            notice.proof_capture = capture
        notice.save()
        audit_record(
            agency=notice.agency,
            actor=actor,
            action=f"notice.{outcome}",
            obj=notice,
            data={
                "from": old,
                "note": notice.outcome_note,
                "capture": capture.pk if capture else None,
            },
        )
        webhook_emit(notice=notice, event=CLOSING[NoticeStatus(outcome)])
    return notice


def notices_close_for_removed_finding(*, finding: Finding, capture: Capture | None) -> list[Notice]:
    """A finding was seen removed: each open notice whose findings are now all removed is
    closed as actioned, with the capture that saw the removal as proof. Without a capture
    passed in, the finding's latest removal observation is used (the confirming re-check
    that just ran); an unreachable or live visit is never proof of a removal, so a finding
    marked removed by hand without one closes its notices with no proof capture."""
    if capture is None:
        capture = (
            Capture.objects.filter(finding=finding, observation=CaptureObservation.REMOVED)
            .order_by("-observed_at", "-id")
            .first()
        )
    closed = []
    open_notices = Notice.objects.filter(findings=finding, status__in=OPEN_NOTICE_STATUSES)
    for notice in open_notices:
        statuses = set(notice.findings.values_list("status", flat=True))
        if statuses <= {FindingStatus.REMOVED, FindingStatus.DISMISSED}:
            note = _("Finding #%(id)s was seen removed.") % {"id": finding.pk}
            closed.append(
                notice_close(
                    notice=notice,
                    actor=None,
                    outcome=NoticeStatus.ACTIONED,
                    note=note,
                    capture=capture,
                )
            )
    return closed
