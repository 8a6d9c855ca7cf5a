from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib.auth.models import User
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

COMMENT_MAX = 5000


class CommentForm(forms.Form):
    body = forms.CharField(
        label=_("Comment"),
        max_length=COMMENT_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("Write @username to notify a colleague."),
    )


class AssigneeChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return str(obj.get_username())


class TaskForm(forms.Form):
    title = forms.CharField(label=_("Task"), max_length=200)
    due_on = forms.DateField(
        label=_("Due on"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    assignee = AssigneeChoice(
        label=_("Assignee"), queryset=None, required=False, empty_label=_("Nobody yet")
    )

    def __init__(self, *args: Any, assignees: QuerySet[User], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = assignees  # type: ignore[attr-defined]


class NotificationReadForm(forms.Form):
    ids = forms.CharField(required=False)


class DigestForm(forms.Form):
    enabled = forms.BooleanField(label=_("E-mail me a daily digest"), required=False)
    language = forms.ChoiceField(label=_("Language of the digest"), choices=settings.LANGUAGES)
