"""Forms of intake: recording and editing findings, status changes, bulk import and the
public fan report."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from cases.agency.forms import (
    ArtistChoiceField,
    MemberChoiceField,
    SingleArtistChoiceField,
    _artists,
)
from cases.agency.models import Artist
from cases.intake.canonical import MAX_URL_LENGTH
from cases.intake.fan_screenshots import (
    FanScreenshotFile,
    ScreenshotRefused,
    fan_screenshot_max_bytes,
    fan_screenshot_read,
)
from cases.intake.models import Finding, FindingStatus
from cases.intake.monitor.models import WatchedSourceKind
from cases.intake.services.findings import TRANSITIONS
from cases.kernel.models import Membership
from cases.kernel.widgets import ChoiceList

User = get_user_model()

# --- Findings -----------------------------------------------------------------------------


class FindingCreateForm(forms.Form):
    url = forms.CharField(
        label=_("URL"),
        max_length=MAX_URL_LENGTH,
        widget=forms.TextInput(
            attrs={"autofocus": True, "placeholder": "https://", "autocomplete": "off"}
        ),
        help_text=_("Tracking parameters are removed; a URL already recorded is not added twice."),
    )
    artists = ArtistChoiceField(
        label=_("Artists depicted"),
        queryset=Artist.objects.none(),
        required=False,
        widget=ChoiceList,
    )
    notes = forms.CharField(
        label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 3})
    )

    def __init__(self, *args: Any, artists: QuerySet[Artist], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(ArtistChoiceField, self.fields["artists"]).queryset = _artists(artists)


class FindingUpdateForm(forms.Form):
    artists = ArtistChoiceField(
        label=_("Artists depicted"),
        queryset=Artist.objects.none(),
        required=False,
        widget=ChoiceList,
    )
    assignee = MemberChoiceField(
        label=_("Assignee"), queryset=User.objects.none(), required=False, empty_label=_("Nobody")
    )
    notes = forms.CharField(
        label=_("Notes"), required=False, widget=forms.Textarea(attrs={"rows": 4})
    )

    def __init__(
        self,
        *args: Any,
        artists: QuerySet[Artist],
        members: QuerySet[Membership],
        finding: Finding | None = None,
        **kwargs: Any,
    ) -> None:
        if finding is not None and "initial" not in kwargs:
            kwargs["initial"] = {
                "artists": [a.pk for a in finding.artists.all()],
                "assignee": finding.assignee_id,
                "notes": finding.notes,
            }
        super().__init__(*args, **kwargs)
        cast(ArtistChoiceField, self.fields["artists"]).queryset = _artists(artists)
        # Only active staff of the finding's own agency can be assigned.
        cast(MemberChoiceField, self.fields["assignee"]).queryset = User.objects.filter(
            membership__in=members, is_active=True
        ).order_by("username")


class FindingStatusForm(forms.Form):
    status = forms.ChoiceField(label=_("New status"), choices=())
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        required=False,
        help_text=_("Required when dismissing."),
    )

    def __init__(self, *args: Any, current: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        allowed = TRANSITIONS.get(current, frozenset())
        cast(forms.ChoiceField, self.fields["status"]).choices = [
            (value, label) for value, label in FindingStatus.choices if value in allowed
        ]


class FindingBulkStatusForm(forms.Form):
    ids = forms.TypedMultipleChoiceField(coerce=int, required=True)
    status = forms.ChoiceField(label=_("Set status"), choices=FindingStatus.choices)
    reason = forms.CharField(label=_("Reason"), max_length=500, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The ids are checked against the user's agency by the selector, not here: accept
        # any integers the browser sent.
        submitted = self.data.getlist("ids") if hasattr(self.data, "getlist") else []
        ids = cast(forms.TypedMultipleChoiceField, self.fields["ids"])
        ids.choices = [(value, value) for value in submitted if value.isdigit()]
        ids.error_messages["required"] = _("Select at least one finding.")


# --- Imports ------------------------------------------------------------------------------


class ImportForm(forms.Form):
    lines = forms.CharField(
        label=_("Paste URLs, one per line"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false"}),
    )
    file = forms.FileField(
        label=_("…or upload a CSV or text file"),
        required=False,
        help_text=_(
            "A 'url' column (and optionally 'artist', stage names separated by |), "
            "or one URL per line. UTF-8 or CP949."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.txt,text/csv,text/plain"}),
    )

    def clean_file(self) -> UploadedFile | None:
        upload = self.cleaned_data.get("file")
        # Checked on the declared size before reading, so an oversized upload is refused
        # without loading it (services.imports checks the bytes again).
        if upload is not None and upload.size > settings.IMPORT_MAX_BYTES:
            raise forms.ValidationError(
                _(
                    "The file is %(size)s MB; the limit is %(limit)s MB. Split it into smaller files."
                )
                % {
                    "size": round(upload.size / 1e6, 1),
                    "limit": round(settings.IMPORT_MAX_BYTES / 1e6, 1),
                }
            )
        return upload

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        has_lines = bool((cleaned.get("lines") or "").strip())
        has_file = cleaned.get("file") is not None
        if has_lines and has_file:
            raise forms.ValidationError(_("Paste URLs or upload a file, not both."))
        if not has_lines and not has_file and not self.errors:
            raise forms.ValidationError(_("Paste at least one URL or choose a file to upload."))
        return cleaned


# --- Public fan report --------------------------------------------------------------------


class FanReportForm(forms.Form):
    url = forms.CharField(
        label=_("Link to the fake content"),
        max_length=MAX_URL_LENGTH,
        widget=forms.TextInput(attrs={"placeholder": "https://", "autocomplete": "off"}),
    )
    artist = SingleArtistChoiceField(
        label=_("Which artist is shown?"),
        queryset=Artist.objects.none(),
        required=False,
        empty_label=_("Not sure / other"),
    )
    description = forms.CharField(
        label=_("What did you see? (optional)"),
        max_length=5000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    contact = forms.CharField(
        label=_("Your e-mail or contact (optional)"),
        max_length=200,
        required=False,
        help_text=_("Only if you are happy to be contacted about this report."),
    )
    screenshot = forms.FileField(
        label=_("Screenshot (optional)"),
        required=False,
        widget=forms.ClearableFileInput(
            attrs={"accept": "image/jpeg,image/png,image/webp,image/gif"}
        ),
    )
    # Honeypot: hidden from people by CSS, filled in by naive bots.
    website = forms.CharField(
        label=_("Leave this field empty"),
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def __init__(self, *args: Any, artists: QuerySet[Artist], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(SingleArtistChoiceField, self.fields["artist"]).queryset = artists.order_by(
            "stage_name"
        )
        # Built here, in the language the view activated, so the limit named is the setting.
        self.fields["screenshot"].help_text = gettext(
            "An image (JPEG, PNG, WebP or GIF) of at most %(limit)s. It is never shown publicly."
        ) % {"limit": filesizeformat(fan_screenshot_max_bytes())}

    @property
    def is_bot(self) -> bool:
        return bool(self.data.get("website", "").strip())

    def clean_screenshot(self) -> FanScreenshotFile | None:
        upload = self.cleaned_data.get("screenshot")
        if not upload:
            return None
        try:
            return fan_screenshot_read(upload, size=upload.size or 0)
        except ScreenshotRefused as exc:
            raise forms.ValidationError(str(exc), code="screenshot") from None


# --- Watched sources ----------------------------------------------------------------------


class WatchedSourceForm(forms.Form):
    """A watched source's settings; watched_source_save checks them (URL policy, selector,
    JSON paths, interval) and the view shows its reason on the field."""

    name = forms.CharField(label=_("Name"), max_length=120)
    kind = forms.ChoiceField(label=_("Kind"), choices=WatchedSourceKind.choices)
    url = forms.CharField(
        label=_("URL"),
        max_length=MAX_URL_LENGTH,
        widget=forms.TextInput(attrs={"placeholder": "https://", "spellcheck": "false"}),
        help_text=_(
            "A feed, sitemap, page or JSON listing; https://t.me/s/channel for a Telegram "
            "channel; for a search URL, {alias} where each artist name goes."
        ),
    )
    selector = forms.CharField(
        label=_("Link selector"),
        max_length=300,
        required=False,
        help_text=_(
            "HTML pages and search URLs: the CSS selector of each post, e.g. article.post."
        ),
    )
    json_items_path = forms.CharField(
        label=_("Items path"),
        max_length=200,
        required=False,
        help_text=_("JSON listings: where the items are, e.g. data.children.*.data."),
    )
    json_url_key = forms.CharField(
        label=_("URL key"), max_length=100, required=False, help_text=_("e.g. url")
    )
    json_text_keys = forms.CharField(
        label=_("Text keys"),
        max_length=200,
        required=False,
        help_text=_("Comma-separated, e.g. title, selftext."),
    )
    interval_minutes = forms.IntegerField(label=_("Poll every (minutes)"), min_value=1)
    active = forms.BooleanField(label=_("Active"), required=False)
    capture_strong_matches = forms.BooleanField(label=_("Capture strong matches"), required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["capture_strong_matches"].help_text = gettext(
            "Request a capture of each new finding whose media match reference media, a "
            "confirmed fake or a partner's signal closely (PDQ distance %(distance)s or less, "
            "a video with %(percent)s%% or more of each one's frames in the other, or the same "
            "file). No notice is ever sent."
        ) % {
            "distance": settings.MONITOR_STRONG_DISTANCE,
            "percent": settings.MONITOR_STRONG_VPDQ_PERCENT,
        }
