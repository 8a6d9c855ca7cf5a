"""Forms of legal cases: the case itself, its findings and its deadlines."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.db.models import QuerySet
from django.forms.models import model_to_dict
from django.utils.translation import gettext_lazy as _

from cases.agency.forms import ArtistChoiceField, _artists
from cases.agency.models import Artist
from cases.kernel.widgets import ChoiceList
from cases.legal.models import Case, CaseStatus

# --- Cases --------------------------------------------------------------------------------


class CaseForm(forms.ModelForm):
    artists = ArtistChoiceField(
        label=_("Artists"),
        queryset=Artist.objects.none(),
        required=False,
        widget=ChoiceList,
    )

    class Meta:
        model = Case
        fields = [
            "title",
            "status",
            "artists",
            "jurisdiction",
            "police_report_number",
            "court_docket",
            "counsel_name",
            "counsel_email",
            "notes",
        ]
        widgets = {"notes": forms.Textarea(attrs={"rows": 5})}

    def __init__(
        self, *args: Any, artists: QuerySet[Artist], case: Case | None = None, **kwargs: Any
    ) -> None:
        if case is not None:
            kwargs.setdefault("initial", model_to_dict(case, fields=self.Meta.fields))
            kwargs["initial"]["artists"] = [a.pk for a in case.artists.all()]
        super().__init__(*args, **kwargs)
        cast(ArtistChoiceField, self.fields["artists"]).queryset = _artists(artists)
        cast(forms.ChoiceField, self.fields["status"]).choices = CaseStatus.choices

    def service_fields(self) -> dict[str, Any]:
        """Cleaned values for case_create / case_update, without the artists."""
        return {k: v for k, v in self.cleaned_data.items() if k != "artists"}


class CaseFindingsForm(forms.Form):
    action = forms.ChoiceField(choices=[("link", "link"), ("unlink", "unlink")])
    ids = forms.CharField(
        label=_("Finding ids"),
        required=False,
        help_text=_("Paste finding ids separated by commas or spaces."),
    )
    picked = forms.TypedMultipleChoiceField(coerce=int, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        submitted = self.data.getlist("picked") if hasattr(self.data, "getlist") else []
        cast(forms.ChoiceField, self.fields["picked"]).choices = [
            (v, v) for v in submitted if v.isdigit() and len(v) <= 18
        ]


class DeadlineForm(forms.Form):
    title = forms.CharField(label=_("Deadline"), max_length=200)
    due_on = forms.DateField(label=_("Due on"), widget=forms.DateInput(attrs={"type": "date"}))
