"""Reads of comments, tasks, notifications and a member's own work, scoped to her agency."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db.models import Q, QuerySet
from django.utils import timezone

from cases.intake.models import Finding, FindingStatus
from cases.kernel.models import Agency, Role
from cases.kernel.tenancy import AnyUser, agency_for, get_or_404, scoped
from cases.legal.models import Case, CaseDeadline
from cases.notices.models import OPEN_NOTICE_STATUSES, Notice
from cases.work.models import Comment, Notification, Task

MY_WORK_ROWS = 50
CLOSED_FINDING_STATUSES = (FindingStatus.REMOVED, FindingStatus.DISMISSED)


def task_assignees_for_agency(agency: Agency) -> QuerySet[User]:
    """Members who may be given a task: those who can write (legal staff and admins)."""
    return (
        get_user_model()
        .objects.filter(
            is_active=True,
            membership__agency=agency,
            membership__role__in=[Role.LEGAL, Role.ADMIN],
        )
        .order_by("username")
    )


def task_assignees_for(user: AnyUser) -> QuerySet[User]:
    agency = agency_for(user)
    if agency is None:
        return get_user_model().objects.none()
    return task_assignees_for_agency(agency)


def comments_for_finding(user: AnyUser, finding: Finding) -> QuerySet[Comment]:
    return scoped(Comment.objects.filter(finding=finding), user).prefetch_related("mentions")


def tasks_for(
    user: AnyUser, *, case: Case | None = None, finding: Finding | None = None
) -> QuerySet[Task]:
    tasks = scoped(Task.objects.select_related("assignee"), user)
    if case is not None:
        return tasks.filter(case=case)
    return tasks.filter(finding=finding)


def task_get_for(user: AnyUser, pk: int | str) -> Task:
    return get_or_404(scoped(Task.objects.select_related("agency", "case", "finding"), user), pk=pk)


@dataclass
class MyWork:
    """What one member has to do: her findings, her tasks, notices due, deadlines this week."""

    findings: list[Finding]
    tasks: list[Task]
    notices_due: list[Notice]
    deadlines: list[CaseDeadline]


def my_work_for(user: User) -> MyWork:
    today = timezone.localdate()
    week_end = today + timedelta(days=7)
    findings = (
        scoped(Finding.objects.select_related("platform"), user)
        .filter(assignee=user)
        .exclude(status__in=CLOSED_FINDING_STATUSES)
        .order_by("-created_at", "-id")[:MY_WORK_ROWS]
    )
    tasks = (
        scoped(Task.objects.select_related("case", "finding"), user)
        .filter(assignee=user, done=False)
        .order_by("due_on", "id")[:MY_WORK_ROWS]
    )
    notices = (
        scoped(Notice.objects.select_related("platform"), user)
        .filter(status__in=OPEN_NOTICE_STATUSES, due_at__isnull=False)
        .filter(Q(assignee=user) | Q(assignee__isnull=True))
        .filter(due_at__lt=timezone.now() + timedelta(days=7))
        .order_by("due_at", "id")[:MY_WORK_ROWS]
    )
    deadlines = (
        scoped(CaseDeadline.objects.select_related("case"), user, field="case__agency")
        .filter(done=False, due_on__lte=week_end)
        .order_by("due_on", "id")[:MY_WORK_ROWS]
    )
    return MyWork(list(findings), list(tasks), list(notices), list(deadlines))


def notifications_for(user: User) -> QuerySet[Notification]:
    return scoped(
        Notification.objects.filter(user=user).select_related(
            "comment__case", "comment__finding", "task__case", "task__finding"
        ),
        user,
    )


BELL_MAX = 99


def unread_notification_count(user: AnyUser) -> int:
    """Unread notifications, up to BELL_MAX + 1 (the bell says "more than 99"); a slice, not
    COUNT(*), so an old backlog costs nothing."""
    if not user.is_authenticated:
        return 0
    unread = scoped(Notification.objects.filter(user=user, read_at__isnull=True), user)
    return len(unread.values_list("pk", flat=True)[: BELL_MAX + 1])
