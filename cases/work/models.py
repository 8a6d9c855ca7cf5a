"""The work around findings and cases: comments with @mentions, tasks with assignees and due
dates, and the in-app notifications they cause."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from cases.intake.models import Finding
from cases.kernel.models import Agency
from cases.legal.models import Case

# Exactly one of case and finding: a comment or task belongs to one thing.
ONE_TARGET = Q(case__isnull=False, finding__isnull=True) | Q(
    case__isnull=True, finding__isnull=False
)


class Comment(models.Model):
    """A note a member leaves on a case or a finding; @username mentions of members of the
    same agency are resolved once, when it is posted."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="comments")
    case = models.ForeignKey(
        Case, on_delete=models.CASCADE, null=True, blank=True, related_name="comments"
    )
    finding = models.ForeignKey(
        Finding, on_delete=models.CASCADE, null=True, blank=True, related_name="comments"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    # Kept apart from the FK so the comment still names a person after the account is removed.
    author_label = models.CharField(max_length=150, blank=True)
    body = models.TextField(_("comment"))
    mentions = models.ManyToManyField(settings.AUTH_USER_MODEL, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.CheckConstraint(condition=ONE_TARGET, name="comment_one_target")]

    def __str__(self) -> str:
        return f"comment {self.pk} by {self.author_label}"


class Task(models.Model):
    """A piece of work on a case or a finding, for one member who can write, by a date."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="tasks")
    case = models.ForeignKey(
        Case, on_delete=models.CASCADE, null=True, blank=True, related_name="tasks"
    )
    finding = models.ForeignKey(
        Finding, on_delete=models.CASCADE, null=True, blank=True, related_name="tasks"
    )
    title = models.CharField(_("task"), max_length=200)
    due_on = models.DateField(_("due on"), null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("assignee"),
    )
    done = models.BooleanField(_("done"), default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["done", "due_on", "id"]
        constraints = [models.CheckConstraint(condition=ONE_TARGET, name="task_one_target")]
        indexes = [models.Index(fields=["assignee", "done"], name="task_assignee_open")]

    def __str__(self) -> str:
        return self.title


class NotificationKind(models.TextChoices):
    MENTION = "mention", _("Mentioned you")
    ASSIGNED = "assigned", _("Assigned a task to you")


class Notification(models.Model):
    """Something a member should see: a mention of her, a task given to her."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="notifications")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=12, choices=NotificationKind.choices)
    comment = models.ForeignKey(
        Comment, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    task = models.ForeignKey(
        Task, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_unread")]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}"


class DigestSubscription(models.Model):
    """A member's opt-in to the daily e-mail digest, in the language she chose. `sent_on`
    is the agency-local day the digest was last handled (sent, or nothing to send), so a
    second run on the same day sends nothing."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="digest_subscription"
    )
    enabled = models.BooleanField(_("e-mail me a daily digest"), default=False)
    language = models.CharField(_("language"), max_length=10, choices=settings.LANGUAGES)
    sent_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["enabled", "sent_on"], name="digest_due")]

    def __str__(self) -> str:
        return f"digest for {self.user_id} ({'on' if self.enabled else 'off'})"
