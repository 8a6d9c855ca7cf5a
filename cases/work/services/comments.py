"""Comments on cases and findings, with @mentions of members of the same agency."""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction

from cases.intake.models import Finding
from cases.kernel.actor import actor_label
from cases.kernel.audit.services import audit_record
from cases.legal.models import Case
from cases.work.models import Comment, NotificationKind
from cases.work.services.notifications import notification_create_many

# "@name" where name is a Django username (letters, digits and @.+-_), not inside an e-mail
# address ("bob@example.com" mentions nobody).
MENTION = re.compile(r"(?<![\w.@+-])@([\w.@+-]{1,150})")
MAX_MENTIONS = 20


def mention_names(body: str) -> list[str]:
    """The usernames written as @name in a comment, in order, once each."""
    names = [name.rstrip(".") for name in MENTION.findall(body)]
    return list(dict.fromkeys(n for n in names if n))[:MAX_MENTIONS]


def comment_add(
    *, author: User, body: str, case: Case | None = None, finding: Finding | None = None
) -> Comment:
    """Post a comment on one case or one finding. Only members of the target's own agency
    are mentioned (and notified); any other @name stays plain text."""
    target = case if case is not None else finding
    if target is None or (case is not None and finding is not None):
        raise ValueError("a comment belongs to exactly one case or finding")
    agency = target.agency
    names = mention_names(body)
    users = list(
        get_user_model()
        .objects.filter(username__in=names, membership__agency=agency, is_active=True)
        .exclude(pk=author.pk)
        .order_by("pk")
    )
    with transaction.atomic():
        comment = Comment.objects.create(
            agency=agency,
            case=case,
            finding=finding,
            author=author,
            author_label=actor_label(author),
            body=body,
        )
        comment.mentions.set(users)
        audit_record(
            agency=agency,
            actor=author,
            action="comment.added",
            obj=target,
            data={"comment": comment.pk, "mentions": [u.pk for u in users]},
        )
        notification_create_many(
            agency=agency,
            users=users,
            kind=NotificationKind.MENTION,
            actor=author,
            comment=comment,
        )
    return comment
