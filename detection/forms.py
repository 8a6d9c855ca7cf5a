"""Forms of the detection UI; the services do every write."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from detection.models import ReviewVerdict


class DetectionReviewForm(forms.Form):
    verdict = forms.ChoiceField(label=_("Verdict"), choices=ReviewVerdict.choices)
    note = forms.CharField(
        label=_("Note (kept in the audit trail)"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    run = forms.IntegerField(required=False, widget=forms.HiddenInput)
