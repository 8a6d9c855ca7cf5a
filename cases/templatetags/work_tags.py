"""The work panels of the case and finding pages (tasks, timeline, comments), read through
the user's selectors."""

from __future__ import annotations

from typing import Any

from django import template

from cases.intake.models import Finding
from cases.legal.models import Case
from cases.work.mentions import comment_html
from cases.work.selectors import (
    comments_for_finding,
    task_assignees_for,
    tasks_for,
)
from cases.work.timeline import case_timeline

register = template.Library()


def _base(context: template.Context) -> dict[str, Any]:
    request = context["request"]
    return {
        "request": request,
        "csrf_token": context.get("csrf_token"),
        "can_write": context.get("can_write", False),
        "assignees": task_assignees_for(request.user) if context.get("can_write") else [],
    }


@register.inclusion_tag("cases/_case_work_panel.html", takes_context=True)
def case_work_panel(context: template.Context, case: Case) -> dict[str, Any]:
    values = _base(context)
    entries, has_more = case_timeline(case, page=1)
    values.update(
        case=case,
        entries=entries,
        has_more=has_more,
        next_page=2,
        tasks=list(tasks_for(context["request"].user, case=case)),
    )
    return values


@register.inclusion_tag("cases/_finding_work_panel.html", takes_context=True)
def finding_work_panel(context: template.Context, finding: Finding) -> dict[str, Any]:
    values = _base(context)
    user = context["request"].user
    comments = list(comments_for_finding(user, finding).order_by("created_at", "id")[:200])
    for comment in comments:
        comment.html = comment_html(  # type: ignore[attr-defined]
            comment.body, [u.get_username() for u in comment.mentions.all()]
        )
    values.update(finding=finding, comments=comments, tasks=list(tasks_for(user, finding=finding)))
    return values
