"""The admin form of a removal signature (cases.models.RemovalSignature)."""

from __future__ import annotations

from typing import Any, cast

import regex
from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from cases.agency.models import Platform
from cases.evidence.capture.observation import compile_signature
from cases.evidence.models import RemovalSignature, SignatureKind
from cases.evidence.services.removal_signatures import SIGNATURE_FIELDS


class RemovalSignatureForm(forms.ModelForm):
    class Meta:
        model = RemovalSignature
        fields = list(SIGNATURE_FIELDS)
        help_texts = {
            "pattern": _(
                "A phrase matches anywhere in the page's visible text, ignoring case. A regular "
                "expression is searched in the same text, ignoring case. Matched only on pages "
                "served by the platform's own domains."
            ),
            "is_active": _("Inactive signatures are kept for the record but no longer used."),
        }

    def __init__(
        self,
        *args: Any,
        platforms: QuerySet[Platform],
        signatures: QuerySet[RemovalSignature],
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.signatures = signatures
        platform = cast(forms.ModelChoiceField, self.fields["platform"])
        platform.queryset = platforms.order_by("name")
        platform.empty_label = None

    def clean_pattern(self) -> str:
        pattern = self.cleaned_data["pattern"].strip()
        if not pattern:
            raise forms.ValidationError(_("Enter the text or pattern to recognise."))
        return pattern

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        pattern, kind = cleaned.get("pattern"), cleaned.get("kind")
        if pattern and kind == SignatureKind.REGEX:
            try:
                compile_signature(pattern)
            except regex.error as exc:
                self.add_error(
                    "pattern",
                    _("Not a valid regular expression: %(error)s") % {"error": str(exc)},
                )
        platform, name = cleaned.get("platform"), cleaned.get("name")
        if platform and name:
            clash = self.signatures.filter(platform=platform, name__iexact=name.strip())
            if self.instance.pk:
                clash = clash.exclude(pk=self.instance.pk)
            if clash.exists():
                self.add_error("name", _("This platform already has a signature of this name."))
        return cleaned

    def validate_unique(self) -> None:
        # Checked in clean() with a clear message; the database constraint stays the guard.
        pass
