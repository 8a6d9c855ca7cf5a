"""In-app notifications: created by comments and tasks, read by their one recipient."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import User
from django.utils import timezone

from cases.kernel.actor import actor_label
from cases.kernel.models import Agency
from cases.work.models import Comment, Notification, NotificationKind, Task


def notification_create_many(
    *,
    agency: Agency,
    users: Iterable[User],
    kind: NotificationKind,
    actor: User,
    comment: Comment | None = None,
    task: Task | None = None,
) -> list[Notification]:
    """One notification per user (never for the actor herself)."""
    rows = [
        Notification(
            agency=agency,
            user=user,
            kind=kind,
            comment=comment,
            task=task,
            actor_label=actor_label(actor),
        )
        for user in users
        if user.pk != actor.pk
    ]
    return Notification.objects.bulk_create(rows)


def notification_mark_read(*, user: User, ids: Iterable[int] | None = None) -> int:
    """Mark the user's own unread notifications read (all, or those of `ids`)."""
    rows = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        rows = rows.filter(pk__in=list(ids))
    return rows.update(read_at=timezone.now())
