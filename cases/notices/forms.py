"""Forms of notices, signers, notice templates and webhooks."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django import forms
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from cases.evidence.models import Evidence
from cases.kernel.widgets import ChoiceList
from cases.matching.models import ReferenceMedia
from cases.notices.models import (
    LegalBasis,
    NoticeChannel,
    NoticeLanguage,
    NoticeStatus,
    SignerProfile,
    WebhookEvent,
)


class ReferenceChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: ReferenceMedia) -> str:
        return f"{obj.title} ({obj.artist.stage_name})"


class EvidenceChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Evidence) -> str:
        return f"#{obj.pk} {obj.get_kind_display()} {obj.original_name} ({obj.sha256[:12]})"


class NoticeForm(forms.Form):
    """A draft's content: basis, language, channel, signer and what the basis asks for."""

    legal_basis = forms.ChoiceField(label=_("Legal basis"), choices=LegalBasis.choices)
    language = forms.ChoiceField(label=_("Language"), choices=NoticeLanguage.choices)
    channel = forms.ChoiceField(
        label=_("Channel"),
        choices=[("", _("The platform's channel")), *NoticeChannel.choices],
        required=False,
    )
    recipient = forms.ChoiceField(
        label=_("Send to"),
        choices=[("", _("The platform's abuse address"))],
        required=False,
        help_text=_(
            "The platform's own address, or an abuse contact found by RDAP for the "
            "findings' hosts (registrar, hosting network, CDN)."
        ),
    )
    signer = forms.ModelChoiceField(
        label=_("Signer"), queryset=SignerProfile.objects.none(), required=False
    )
    explanation = forms.CharField(
        label=_("Explanation / supporting evidence"),
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text=_("Why the content is illegal or infringing (DSA, Network Act 소명, KCSC)."),
    )
    original_work_description = forms.CharField(
        label=_("Original work (description)"),
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text=_("For DMCA: the original work, if no reference media is linked below."),
    )
    reference_media = ReferenceChoiceField(
        label=_("Reference media (original works)"),
        queryset=ReferenceMedia.objects.none(),
        required=False,
        widget=ChoiceList,
    )
    attachments = EvidenceChoiceField(
        label=_("Evidence to attach"),
        queryset=Evidence.objects.none(),
        required=False,
        widget=ChoiceList,
        help_text=_("Screenshots only, unless explicit media is allowed below."),
    )
    include_explicit = forms.BooleanField(
        label=_("Also attach media that may be explicit (I have checked this is necessary)"),
        required=False,
    )
    csam_waiver = forms.BooleanField(
        label=_("Child sexual abuse material: leave out the notifier's name and e-mail (DSA)"),
        required=False,
    )

    def __init__(
        self,
        *args: Any,
        signers: QuerySet[SignerProfile],
        references: QuerySet[ReferenceMedia],
        evidence: QuerySet[Evidence],
        recipients: Sequence[tuple[str, str]] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        own = ("", _("The platform's abuse address"))
        cast(forms.ChoiceField, self.fields["recipient"]).choices = [own, *recipients]
        cast(forms.ModelChoiceField, self.fields["signer"]).queryset = signers
        cast(ReferenceChoiceField, self.fields["reference_media"]).queryset = references
        cast(EvidenceChoiceField, self.fields["attachments"]).queryset = evidence

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        explicit = [e for e in data.get("attachments") or [] if e.kind != "screenshot"]
        if explicit and not data.get("include_explicit"):
            self.add_error(
                "attachments",
                _("Only screenshots may be attached unless you tick the explicit-media box."),
            )
        return data


class NoticeStatusForm(forms.Form):
    action = forms.ChoiceField(
        choices=[
            ("acknowledge", _("Acknowledged")),
            (NoticeStatus.ACTIONED, _("Actioned (removed)")),
            (NoticeStatus.REJECTED, _("Rejected")),
            (NoticeStatus.NO_RESPONSE, _("No response")),
        ]
    )
    platform_reference = forms.CharField(
        label=_("Platform reference number"), max_length=200, required=False
    )
    note = forms.CharField(label=_("Note"), max_length=2000, required=False)


class NoticeSubmissionForm(forms.Form):
    """What a person records after submitting a platform's web form with the notice text."""

    platform_reference = forms.CharField(
        label=_("Platform reference number"),
        max_length=200,
        help_text=_("The reference or case number the platform's form returned."),
    )
    submitted_at = forms.DateTimeField(
        label=_("Submitted at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Leave empty for now. The platform's deadline starts at this time."),
    )
    confirmation = forms.FileField(
        label=_("Confirmation (screenshot or PDF)"),
        required=False,
        help_text=_("The platform's confirmation page or e-mail, kept as evidence."),
    )


class SignerProfileForm(forms.ModelForm):
    class Meta:
        model = SignerProfile
        fields = [
            "full_name",
            "title",
            "organisation",
            "postal_address",
            "phone",
            "email",
            "signature_text",
            "good_faith_statement",
            "accuracy_statement",
        ]
        widgets = {
            "postal_address": forms.Textarea(attrs={"rows": 3}),
            "good_faith_statement": forms.Textarea(attrs={"rows": 3}),
            "accuracy_statement": forms.Textarea(attrs={"rows": 3}),
        }


class NoticeTemplateForm(forms.Form):
    subject = forms.CharField(label=_("Subject"), max_length=300)
    body = forms.CharField(
        label=_("Body"), widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "false"})
    )


class WebhookForm(forms.Form):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        label=_("Events"), choices=WebhookEvent.choices, widget=forms.CheckboxSelectMultiple
    )
    active = forms.BooleanField(label=_("Active"), required=False, initial=True)
    rotate_secret = forms.BooleanField(label=_("Rotate the secret"), required=False)
