"""Forms of agency administration: roster, staff, platforms and the user's preferences,
plus the agency-scoped choice fields other contexts' forms reuse.

Model forms are used only for their fields and labels: none is ever saved, and an edit form
is built from `initial` (not `instance`), because validating a model form writes the new
values into its instance, which would hide the changes from the service's audit diff."""

from __future__ import annotations

import re
from typing import Any, cast

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.db.models import QuerySet
from django.forms.models import model_to_dict
from django.utils.translation import gettext_lazy as _

from cases.agency.models import Artist, Group, Platform
from cases.agency.services.platform_admin import (
    MAX_SHARE_PARAMS,
    PLATFORM_FIELDS,
    share_params_invalid,
)
from cases.agency.services.tenancy import staff_username
from cases.kernel.models import Agency, Membership, Role
from cases.kernel.widgets import ChoiceList

User = get_user_model()


class ArtistChoiceField(forms.ModelMultipleChoiceField):
    """Artists by stage name and Hangul name: never the legal name."""

    def label_from_instance(self, obj: Artist) -> str:
        return f"{obj.stage_name} ({obj.name_hangul})" if obj.name_hangul else obj.stage_name


class SingleArtistChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Artist) -> str:
        return f"{obj.stage_name} ({obj.name_hangul})" if obj.name_hangul else obj.stage_name


class MemberChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.get_full_name() or obj.get_username()


def _artists(artists: QuerySet[Artist]) -> QuerySet[Artist]:
    return artists.only("id", "stage_name", "name_hangul").order_by("stage_name")


# --- Roster -------------------------------------------------------------------------------


def _split_aliases(text: str) -> list[str]:
    # Commas in either script: the Latin comma and the ideographic/full-width ones.
    for separator in ("\u3001", "\uff0c"):
        text = text.replace(separator, ",")
    seen: dict[str, None] = {}
    for alias in text.split(","):
        if alias.strip():
            seen.setdefault(alias.strip()[:120], None)
    return list(seen)


class ArtistForm(forms.ModelForm):
    aliases = forms.CharField(
        label=_("Aliases"),
        required=False,
        help_text=_("Separate aliases with commas."),
    )
    groups = forms.ModelMultipleChoiceField(
        label=_("Groups"),
        queryset=Group.objects.none(),
        required=False,
        widget=ChoiceList,
    )

    class Meta:
        model = Artist
        fields = [
            "stage_name",
            "name_hangul",
            "name_latin",
            "legal_name",
            "aliases",
            "groups",
            "active",
        ]

    def __init__(
        self,
        *args: Any,
        groups: QuerySet[Group],
        artists: QuerySet[Artist],
        show_legal_name: bool,
        artist: Artist | None = None,
        **kwargs: Any,
    ) -> None:
        self.artist = artist
        self.existing = artists
        if artist is not None:
            initial = model_to_dict(artist, fields=self.Meta.fields)
            initial["aliases"] = ", ".join(artist.aliases or [])
            initial["groups"] = [g.pk for g in artist.groups.all()]
            kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        cast(forms.ModelMultipleChoiceField, self.fields["groups"]).queryset = groups.order_by(
            "name"
        )
        if show_legal_name:
            self.fields["legal_name"].help_text = _("Shown only to admins and legal staff.")
        else:
            # Removed, not hidden: the value never reaches the page source.
            del self.fields["legal_name"]
            self.initial.pop("legal_name", None)

    def clean_stage_name(self) -> str:
        name = self.cleaned_data["stage_name"].strip()
        clash = self.existing.filter(stage_name__iexact=name)
        if self.artist is not None:
            clash = clash.exclude(pk=self.artist.pk)
        if clash.exists():
            raise forms.ValidationError(_("An artist with this stage name already exists."))
        return name

    def clean_aliases(self) -> list[str]:
        return _split_aliases(self.cleaned_data.get("aliases") or "")

    def service_fields(self) -> dict[str, Any]:
        return {k: v for k, v in self.cleaned_data.items() if k != "groups"}


class GroupForm(forms.ModelForm):
    class Meta:
        model = Group
        fields = ["name", "name_hangul", "active"]

    def __init__(
        self, *args: Any, groups: QuerySet[Group], group: Group | None = None, **kwargs: Any
    ) -> None:
        self.group = group
        self.existing = groups
        if group is not None:
            kwargs.setdefault("initial", model_to_dict(group, fields=self.Meta.fields))
        super().__init__(*args, **kwargs)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        clash = self.existing.filter(name__iexact=name)
        if self.group is not None:
            clash = clash.exclude(pk=self.group.pk)
        if clash.exists():
            raise forms.ValidationError(_("A group with this name already exists."))
        return name


# --- Staff --------------------------------------------------------------------------------


class StaffCreateForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=100)
    email = forms.EmailField(
        label=_("E-mail"), help_text=_("Password reset links are sent to this address.")
    )
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices, initial=Role.VIEWER)
    password = forms.CharField(
        label=_("Initial password"),
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_(
            "Give it to the person through a separate channel; they change it on their "
            "Settings page (Change password), or you send them a reset link from the staff list."
        ),
    )

    def __init__(self, *args: Any, agency: Agency, **kwargs: Any) -> None:
        self.agency = agency
        super().__init__(*args, **kwargs)
        self.fields["username"].help_text = _(
            "They log in as %(prefix)s followed by this name."
        ) % {"prefix": staff_username(agency=agency, name="")}

    def clean_username(self) -> str:
        name = self.cleaned_data["username"].strip()
        username = staff_username(agency=self.agency, name=name)
        limit = User._meta.get_field("username").max_length or 150
        if len(username) > limit:
            raise forms.ValidationError(
                _("Use at most %(count)d characters.")
                % {"count": limit - len(staff_username(agency=self.agency, name=""))}
            )
        User.username_validator(username)
        # Only this agency's namespace can clash, so the answer tells nothing about others.
        if User.objects.filter(username__iexact=username).exists():
            raise forms.ValidationError(_("This username is taken."))
        return username

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        password = cleaned.get("password")
        if password:
            candidate = User(username=cleaned.get("username", ""), email=cleaned.get("email", ""))
            try:
                validate_password(password, user=candidate)
            except forms.ValidationError as exc:
                self.add_error("password", exc)
        return cleaned


class StaffUpdateForm(forms.Form):
    role = forms.ChoiceField(label=_("Role"), choices=Role.choices)
    active = forms.BooleanField(
        label=_("Active"), required=False, help_text=_("An inactive account cannot log in.")
    )

    def __init__(self, *args: Any, membership: Membership, admin_count: int, **kwargs: Any) -> None:
        self.membership = membership
        self.admin_count = admin_count
        kwargs.setdefault("initial", {"role": membership.role, "active": membership.user.is_active})
        super().__init__(*args, **kwargs)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        was_active_admin = self.membership.role == Role.ADMIN and self.membership.user.is_active
        stays_active_admin = cleaned.get("role") == Role.ADMIN and cleaned.get("active")
        # The agency must keep someone who can manage its staff.
        if was_active_admin and not stays_active_admin and self.admin_count <= 1:
            raise forms.ValidationError(
                _(
                    "This is the agency's last active admin. Make someone else an admin "
                    "before changing this role or deactivating the account."
                )
            )
        return cleaned


# --- Platforms ----------------------------------------------------------------------------


class PlatformForm(forms.ModelForm):
    domains = forms.CharField(
        label=_("Domains"),
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}),
        help_text=_("One host per line, e.g. youtube.com; subdomains match too."),
    )
    web_form_url = forms.URLField(
        label=_("web form URL"), max_length=500, required=False, assume_scheme="https"
    )
    cdn_domains = forms.CharField(
        label=_("CDN hosts"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        help_text=_("CDN hosts that serve this platform's content, one per line."),
    )
    languages = forms.CharField(
        label=_("Notice languages"), required=False, help_text=_("Comma-separated, e.g. en, ko.")
    )
    share_params = forms.CharField(
        label=_("Share parameters"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "spellcheck": "false"}),
        help_text=_(
            "Query parameters this platform's share buttons add, which never change what a "
            "link shows (e.g. si, feature). One name per line; they are removed from its "
            "URLs before duplicates are found, on its domains and their subdomains."
        ),
    )

    class Meta:
        model = Platform
        fields = list(PLATFORM_FIELDS)

    def __init__(
        self, *args: Any, platforms: QuerySet[Platform], platform: Platform, **kwargs: Any
    ) -> None:
        self.platform = platform
        self.existing = platforms
        initial = model_to_dict(platform, fields=self.Meta.fields)
        initial["domains"] = "\n".join(platform.domains or [])
        initial["cdn_domains"] = "\n".join(platform.cdn_domains or [])
        initial["languages"] = ", ".join(platform.languages or [])
        initial["share_params"] = "\n".join(platform.share_params or [])
        kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"].strip()
        if self.existing.filter(name__iexact=name).exclude(pk=self.platform.pk).exists():
            raise forms.ValidationError(_("Another platform already has this name."))
        return name

    def clean_cdn_domains(self) -> list[str]:
        return [
            line.strip().strip(".").lower()
            for line in self.cleaned_data["cdn_domains"].splitlines()
            if line.strip()
        ]

    def clean_share_params(self) -> list[str]:
        names = [
            name.strip().lower()
            for name in re.split(r"[\n,]", self.cleaned_data["share_params"])
            if name.strip()
        ]
        bad = share_params_invalid(names)
        if bad:
            raise forms.ValidationError(
                _(
                    "Not a parameter name: %(names)s. Enter names only, one per line, "
                    "without '=', a value, '?' or '&' (e.g. si, not si=abc)."
                )
                % {"names": ", ".join(bad[:5])}
            )
        if len(names) > MAX_SHARE_PARAMS:
            raise forms.ValidationError(
                _("At most %(max)s share parameters per platform.") % {"max": MAX_SHARE_PARAMS}
            )
        return list(dict.fromkeys(names))

    def clean_languages(self) -> list[str]:
        codes = [c.strip().lower() for c in self.cleaned_data["languages"].split(",") if c.strip()]
        return list(dict.fromkeys(codes))

    def clean_domains(self) -> list[str]:
        domains = [
            line.strip().strip(".").lower()
            for line in self.cleaned_data["domains"].splitlines()
            if line.strip()
        ]
        bad = [d for d in domains if " " in d or "/" in d or "." not in d]
        if bad:
            raise forms.ValidationError(
                _("Not a host name: %(hosts)s. Enter host names only, like example.com.")
                % {"hosts": ", ".join(bad[:5])}
            )
        return domains


# --- User settings ------------------------------------------------------------------------


class PreferencesForm(forms.Form):
    always_blur = forms.BooleanField(
        label=_("Keep all media blurred"),
        required=False,
        help_text=_("Media stays blurred until you choose to reveal each item."),
    )
