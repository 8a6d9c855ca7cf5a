"""Tasks on cases and findings: for a member who can write, with an optional due date."""

from __future__ import annotations

from datetime import date

from django.contrib.auth.models import User
from django.db import transaction

from cases.intake.models import Finding
from cases.kernel.audit.services import audit_record
from cases.legal.models import Case
from cases.work.models import NotificationKind, Task
from cases.work.selectors import task_assignees_for_agency
from cases.work.services.notifications import notification_create_many


def task_add(
    *,
    actor: User,
    title: str,
    due_on: date | None = None,
    assignee: User | None = None,
    case: Case | None = None,
    finding: Finding | None = None,
) -> Task:
    """Add a task to one case or one finding; the assignee is told (in-app)."""
    target = case if case is not None else finding
    if target is None or (case is not None and finding is not None):
        raise ValueError("a task belongs to exactly one case or finding")
    agency = target.agency
    if assignee is not None and not task_assignees_for_agency(agency).filter(pk=assignee.pk):
        raise ValueError("the assignee must be a member of the agency who can write")
    with transaction.atomic():
        task = Task.objects.create(
            agency=agency,
            case=case,
            finding=finding,
            title=title,
            due_on=due_on,
            assignee=assignee,
            created_by=actor,
        )
        audit_record(
            agency=agency,
            actor=actor,
            action="task.added",
            obj=target,
            data={
                "task": task.pk,
                "title": title,
                "due_on": due_on.isoformat() if due_on else None,
                "assignee": assignee.pk if assignee else None,
            },
        )
        if assignee is not None:
            notification_create_many(
                agency=agency,
                users=[assignee],
                kind=NotificationKind.ASSIGNED,
                actor=actor,
                task=task,
            )
    return task


def task_done(*, task: Task, actor: User) -> Task:
    """Mark a task done (once; a second call changes nothing)."""
    if task.done:
        return task
    with transaction.atomic():
        task.done = True
        task.save(update_fields=["done"])
        audit_record(
            agency=task.agency,
            actor=actor,
            action="task.done",
            obj=task.case or task.finding,
            data={"task": task.pk, "title": task.title},
        )
    return task
