"""Issue 9: web-form notices the old code marked "sent" when it only made their text final,
and that got no answer since, go back to "ready, awaiting submission", with an audit event each.

Nobody recorded that the platform's form was submitted, so the product must not say the
notice was sent nor run a deadline for it. This is not done in migration 0009 because a
migration cannot write to the audit trail (historical models, no HMAC key) and every change
of a notice must be in it. It runs after every `migrate` (cases/wiring.py) and from
`manage.py notices_reclassify`; once done, nothing matches any more, so it is idempotent and
costs one query in the normal case."""

from __future__ import annotations

import logging
from datetime import datetime

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.migrations.executor import MigrationExecutor
from django.db.models import CharField, Exists, OuterRef, QuerySet
from django.db.models.functions import Cast
from django.utils import timezone

from cases.kernel.audit.services import AuditEntry, audit_record_many
from cases.kernel.models import Agency, AuditEvent
from cases.notices.models import Notice, NoticeChannel, NoticeStatus

log = logging.getLogger(__name__)

RECLASSIFIED = "notice.reclassified_awaiting_submission"
# Stored in the audit event (data, not UI): English, like every other event's data.
REASON = (
    "Web-form notice marked sent by the old code when its text was only finalised; no "
    "submission, acknowledgement, platform reference or closing was ever recorded."
)


def _unsubmitted() -> QuerySet[Notice]:
    """Sent web-form notices with no trace of having reached the platform. Today's code sends
    a web-form notice only by recording its submission, which needs a platform reference and
    writes `notice.submitted`; the event is checked too, so a recorded submission is never
    undone even if its reference were lost."""
    submitted = AuditEvent.objects.filter(
        agency=OuterRef("agency"),
        object_type="notice",
        object_id=Cast(OuterRef("pk"), output_field=CharField()),
        action="notice.submitted",
    )
    return Notice.objects.filter(
        channel=NoticeChannel.WEB_FORM,
        status=NoticeStatus.SENT,
        acknowledged_at__isnull=True,
        closed_at__isnull=True,
        platform_reference="",
    ).filter(~Exists(submitted))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def notices_reclassify_unsubmitted(*, now: datetime | None = None) -> int:
    """Move every such notice to awaiting submission (no sending time, no deadline, no
    reminder or escalation) with a `notice.reclassified_awaiting_submission` event by the
    system; one transaction per agency. Returns how many notices moved."""
    now = now or timezone.now()
    agency_ids = list(_unsubmitted().order_by().values_list("agency_id", flat=True).distinct())
    moved = 0
    for agency in Agency.objects.filter(pk__in=agency_ids).order_by("pk"):
        with transaction.atomic():
            # Selected again under the row locks: one acknowledged or closed meanwhile stays.
            notices = list(
                _unsubmitted().filter(agency=agency).select_for_update(of=("self",)).order_by("pk")
            )
            entries = []
            for notice in notices:
                entries.append(
                    AuditEntry(
                        action=RECLASSIFIED,
                        obj=notice,
                        data={
                            "old_status": notice.status,
                            "old_sent_at": _iso(notice.sent_at),
                            "old_due_at": _iso(notice.due_at),
                            "old_reminder_sent_at": _iso(notice.reminder_sent_at),
                            "old_escalated_at": _iso(notice.escalated_at),
                            "finalised_at": _iso(notice.finalised_at or notice.sent_at),
                            "sha256": notice.rendered_sha256,
                            "reason": REASON,
                        },
                    )
                )
                # The text became final when the old code "sent" it (migration 0009 backfills
                # the same; repeated here for a row that missed it).
                notice.finalised_at = notice.finalised_at or notice.sent_at
                notice.status = NoticeStatus.AWAITING_SUBMISSION
                notice.sent_at = notice.due_at = None
                notice.reminder_sent_at = notice.escalated_at = None
                notice.save(
                    update_fields=[
                        "status",
                        "finalised_at",
                        "sent_at",
                        "due_at",
                        "reminder_sent_at",
                        "escalated_at",
                        "updated_at",
                    ]
                )
            audit_record_many(agency=agency, actor=None, entries=entries, at=now)
        moved += len(notices)
        if notices:
            log.warning(
                "agency %s: %d web-form notice(s) put back to awaiting submission: %s",
                agency.slug,
                len(notices),
                [n.pk for n in notices],
            )
    return moved


def migrations_complete(using: str = DEFAULT_DB_ALIAS) -> bool:
    """True when every migration on disk is applied to `using`: only then do today's models
    match the tables (post_migrate also follows a partial or a backwards migrate)."""
    executor = MigrationExecutor(connections[using])
    return not executor.migration_plan(executor.loader.graph.leaf_nodes())
