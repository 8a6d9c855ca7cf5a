"""Comments, tasks, the case timeline's "show older", the "my work" page and notifications."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from cases.intake.selectors import finding_get_for
from cases.kernel.web import HtmxHttpRequest, member_required, page_number, parse_ids
from cases.legal.selectors import case_get_for
from cases.work.forms import CommentForm, DigestForm, TaskForm
from cases.work.models import DigestSubscription
from cases.work.selectors import (
    BELL_MAX,
    my_work_for,
    notifications_for,
    task_assignees_for,
    task_get_for,
    unread_notification_count,
)
from cases.work.services.comments import comment_add
from cases.work.services.digest import digest_subscription_set
from cases.work.services.notifications import notification_mark_read
from cases.work.services.tasks import task_add, task_done
from cases.work.timeline import case_timeline


@require_GET
@member_required()
def case_timeline_page(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    case = case_get_for(request.user, pk)
    number = page_number(request)
    entries, has_more = case_timeline(case, page=number)
    context = {"case": case, "entries": entries, "has_more": has_more, "next_page": number + 1}
    template = "cases/_timeline_entries.html" if request.htmx else "cases/case_timeline.html"
    return render(request, template, context)


def _comment(request: HtmxHttpRequest, **target: object) -> None:
    form = CommentForm(request.POST)
    if form.is_valid():
        comment_add(author=request.user, body=form.cleaned_data["body"], **target)  # type: ignore[arg-type]
        messages.success(request, _("Comment added."))
    else:
        messages.error(request, _("A comment needs some text (at most 5,000 characters)."))


@require_POST
@member_required()
def case_comment_add(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    case = case_get_for(request.user, pk)
    _comment(request, case=case)
    return redirect(case)


@require_POST
@member_required()
def finding_comment_add(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    finding = finding_get_for(request.user, pk)
    _comment(request, finding=finding)
    return redirect("finding_detail", pk=finding.pk)


def _task(request: HtmxHttpRequest, **target: object) -> None:
    form = TaskForm(request.POST, assignees=task_assignees_for(request.user))
    if form.is_valid():
        task_add(actor=request.user, **form.cleaned_data, **target)  # type: ignore[arg-type]
        messages.success(request, _("Task added."))
    else:
        messages.error(
            request, _("A task needs a title; the assignee must be a colleague who can write.")
        )


@require_POST
@member_required()
def case_task_add(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    case = case_get_for(request.user, pk)
    _task(request, case=case)
    return redirect(case)


@require_POST
@member_required()
def finding_task_add(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    finding = finding_get_for(request.user, pk)
    _task(request, finding=finding)
    return redirect("finding_detail", pk=finding.pk)


@require_POST
@member_required()
def task_mark_done(request: HtmxHttpRequest, task_pk: int) -> HttpResponse:
    task = task_get_for(request.user, task_pk)
    task_done(task=task, actor=request.user)
    messages.success(request, _("Task done."))
    if task.case is not None:
        return redirect(task.case)
    return redirect("finding_detail", pk=task.finding_id)


@require_GET
@member_required()
def my_work(request: HtmxHttpRequest) -> HttpResponse:
    subscription = DigestSubscription.objects.filter(user=request.user).first()
    digest_form = DigestForm(
        initial={
            "enabled": bool(subscription and subscription.enabled),
            "language": subscription.language if subscription else request.LANGUAGE_CODE,
        }
    )
    context = {"work": my_work_for(request.user), "digest_form": digest_form}
    return render(request, "cases/my_work.html", context)


@require_POST
@member_required(write="viewer")
def digest_settings(request: HtmxHttpRequest) -> HttpResponse:
    """Opt in to (or out of) the daily e-mail digest, in the chosen language."""
    form = DigestForm(request.POST)
    if form.is_valid():
        enabled = form.cleaned_data["enabled"]
        digest_subscription_set(
            user=request.user,
            agency=request.membership.agency,
            enabled=enabled,
            language=form.cleaned_data["language"],
        )
        if enabled and not request.user.email:
            messages.warning(
                request, _("Your account has no e-mail address: no digest can be sent.")
            )
        elif enabled:
            messages.success(request, _("You will receive a daily digest by e-mail."))
        else:
            messages.success(request, _("The daily digest is off."))
    return redirect("my_work")


@require_GET
@member_required()
def notification_list(request: HtmxHttpRequest) -> HttpResponse:
    rows = notifications_for(request.user)[:100]
    return render(request, "cases/notification_list.html", {"notifications": rows})


@require_GET
@member_required()
def notification_bell(request: HtmxHttpRequest) -> HttpResponse:
    """The sidebar's count of unread notifications, fetched by htmx after the page, so no
    page pays a query for it."""
    count = unread_notification_count(request.user)
    context = {"unread": min(count, BELL_MAX), "more": count > BELL_MAX}
    return render(request, "cases/_notification_bell.html", context)


@require_POST
@member_required(write="viewer")
def notification_read(request: HtmxHttpRequest) -> HttpResponse:
    """Mark the member's own notifications read (those named in `ids`, or all)."""
    raw = request.POST.get("ids", "")
    notification_mark_read(user=request.user, ids=parse_ids(raw) if raw.strip() else None)
    return redirect("notification_list")
