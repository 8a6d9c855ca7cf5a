"""The exchange-bank labels of one confirmed fake, set from its evidence page (the panel is
`{% bank_panel evidence %}`, cases/templatetags/matching_tags.py). "deepfake" is every
signal's label; a member who may write adds "sexual" or "defamatory", which partners read in
the feed (docs/exchange.md)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from cases.evidence.selectors import evidence_get_for
from cases.kernel.web import HtmxHttpRequest, member_required
from cases.matching.services.bank import BankError, bank_labels_set

# The labels a person chooses ("deepfake" is always there), with their names on screen.
LABEL_CHOICES = [
    ("sexual", gettext_lazy("Sexual")),
    ("defamatory", gettext_lazy("Defamatory")),
]


class BankLabelsForm(forms.Form):
    labels = forms.MultipleChoiceField(
        label=gettext_lazy("Labels for partners"),
        choices=LABEL_CHOICES,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


@require_POST
@member_required()
def evidence_bank_labels(request: HtmxHttpRequest, pk: int) -> HttpResponse:
    evidence = evidence_get_for(request.user, pk)
    back = reverse("evidence_detail", args=[evidence.pk]) + "#bank"
    form = BankLabelsForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Choose labels from the list."))
        return redirect(back)
    try:
        bank_labels_set(evidence=evidence, labels=form.cleaned_data["labels"], actor=request.user)
    except BankError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Bank labels saved."))
    return redirect(back)
