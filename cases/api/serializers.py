"""API serializers. They validate and present; writes go through cases.services (called by
the views), and every id a client sends is resolved inside the caller's own agency."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Model, QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from cases.canonical import InvalidURL, canonicalize_url
from cases.models import Artist, Case, CaseDeadline, Finding, FindingStatus, Group, Platform
from cases.selectors import (
    AnyUser,
    artist_list_for,
    can_see_legal_names,
    finding_list_for,
    group_list_for,
    membership_list_for,
)

User = get_user_model()
Selector = Callable[[AnyUser], QuerySet[Any]]


def _request_user(context: dict[str, Any]) -> AnyUser | None:
    request = context.get("request")
    return getattr(request, "user", None)


def _findings_by_id_for(user: AnyUser) -> QuerySet[Finding]:
    # Linking needs only the rows, not the list page's artist prefetch.
    return finding_list_for(user).prefetch_related(None)


def _staff_users_for(user: AnyUser) -> QuerySet[Any]:
    """Users who may be assigned a finding: the staff of the caller's agency."""
    return User.objects.filter(membership__in=membership_list_for(user))


class ScopedIdListField(serializers.ListField):
    """A list of ids resolved with one query inside the caller's agency. An id of another
    agency is indistinguishable from one that does not exist: both are a 400."""

    child = serializers.IntegerField(min_value=1)

    def __init__(self, *, selector: Selector, **kwargs: Any) -> None:
        self.selector = selector
        kwargs.setdefault("max_length", 1000)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> list[Model]:
        ids = list(dict.fromkeys(super().to_internal_value(data)))
        user = _request_user(self.context)
        if user is None or not ids:
            found: dict[int, Model] = {}
        else:
            found = {obj.pk: obj for obj in self.selector(user).filter(pk__in=ids)}
        missing = [pk for pk in ids if pk not in found]
        if missing:
            raise serializers.ValidationError(
                _("Not found in your agency: %(ids)s.") % {"ids": ", ".join(map(str, missing))}
            )
        return [found[pk] for pk in ids]

    def to_representation(self, data: Any) -> list[int]:
        items: Iterable[Model] = data.all() if hasattr(data, "all") else data
        return [item.pk for item in items]


class ScopedPrimaryKeyRelatedField(serializers.PrimaryKeyRelatedField):
    """One id resolved inside the caller's agency (`model` only tells the schema its type)."""

    default_error_messages = {"does_not_exist": _("Not found in your agency: {pk_value}.")}

    def __init__(self, *, selector: Selector, model: type[Model], **kwargs: Any) -> None:
        self.selector = selector
        super().__init__(queryset=model._default_manager.none(), **kwargs)

    def get_queryset(self) -> QuerySet[Any]:
        user = _request_user(self.context)
        if user is None:
            return self.queryset.none()  # type: ignore[union-attr]
        return self.selector(user)


# ---------------------------------------------------------------------------- roster


class GroupSerializer(serializers.ModelSerializer):
    artist_count = serializers.SerializerMethodField()

    class Meta:
        model = Group
        fields = ["id", "name", "name_hangul", "active", "artist_count"]
        read_only_fields = ["id"]

    @extend_schema_field(serializers.IntegerField())
    def get_artist_count(self, group: Group) -> int:
        # The list selector annotates the count; a freshly saved group is counted here.
        count = getattr(group, "artist_count", None)
        return group.artists.count() if count is None else count

    def validate_name(self, value: str) -> str:
        user = _request_user(self.context)
        if user is not None:
            same = group_list_for(user).filter(name=value)
            if self.instance is not None:
                same = same.exclude(pk=self.instance.pk)
            if same.exists():
                raise serializers.ValidationError(
                    _("Your agency already has a group with this name.")
                )
        return value


class ArtistSerializer(serializers.ModelSerializer):
    groups = ScopedIdListField(selector=group_list_for, required=False)
    aliases = serializers.ListField(
        child=serializers.CharField(max_length=120), required=False, max_length=50
    )

    class Meta:
        model = Artist
        fields = [
            "id",
            "stage_name",
            "name_hangul",
            "name_latin",
            "legal_name",
            "aliases",
            "groups",
            "active",
            "created_at",
        ]
        read_only_fields = ["id", "created_at"]
        extra_kwargs = {"legal_name": {"help_text": _("Returned to admins and legal staff only.")}}

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        view = self.context.get("view")
        # The schema documents the field; a real response drops it for viewers.
        if getattr(view, "swagger_fake_view", False):
            return fields
        user = _request_user(self.context)
        if user is None or not can_see_legal_names(user):
            fields.pop("legal_name", None)
        return fields

    def validate_stage_name(self, value: str) -> str:
        user = _request_user(self.context)
        if user is not None:
            same = artist_list_for(user).filter(stage_name=value)
            if self.instance is not None:
                same = same.exclude(pk=self.instance.pk)
            if same.exists():
                raise serializers.ValidationError(
                    _("Your agency already has an artist with this stage name.")
                )
        return value


# ---------------------------------------------------------------------------- findings


class PlatformRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Platform
        fields = ["id", "name"]


class ArtistRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Artist
        fields = ["id", "stage_name", "name_hangul"]


class UserRefSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username"]


class FindingSerializer(serializers.ModelSerializer):
    """A row of the findings list. Only fields the list selector loads (no `url`, no `notes`),
    so a page costs the same few queries however many rows it holds."""

    platform = PlatformRefSerializer(read_only=True, allow_null=True)
    artists = ArtistRefSerializer(many=True, read_only=True)
    assignee = UserRefSerializer(read_only=True, allow_null=True)

    class Meta:
        model = Finding
        fields = [
            "id",
            "canonical_url",
            "host",
            "platform",
            "artists",
            "source",
            "status",
            "dismissed_reason",
            "assignee",
            "created_at",
            "updated_at",
            "triaged_at",
            "captured_at",
            "notice_sent_at",
            "removed_at",
            "reappeared_at",
            "dismissed_at",
        ]
        read_only_fields = fields


class FindingDetailSerializer(FindingSerializer):
    class Meta(FindingSerializer.Meta):
        fields = [*FindingSerializer.Meta.fields, "url", "notes"]
        read_only_fields = fields


class FindingRecordedSerializer(FindingDetailSerializer):
    """The answer to recording a URL: the finding, and whether it was already recorded."""

    duplicate = serializers.BooleanField(
        read_only=True,
        help_text=_("True when the URL was already recorded: no new finding was made."),
    )

    class Meta(FindingDetailSerializer.Meta):
        fields = [*FindingDetailSerializer.Meta.fields, "duplicate"]
        read_only_fields = fields


class FindingCreateSerializer(serializers.Serializer):
    url = serializers.CharField(
        allow_blank=True, trim_whitespace=False, help_text=_("An http or https URL.")
    )
    artists = ScopedIdListField(selector=artist_list_for, required=False)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=10000)

    def validate_url(self, value: str) -> str:
        # The same rules finding_record applies, checked here so the reason lands on `url`.
        try:
            canonicalize_url(value)
        except InvalidURL as exc:
            raise serializers.ValidationError(str(exc)) from exc
        return value


class FindingUpdateSerializer(serializers.Serializer):
    artists = ScopedIdListField(selector=artist_list_for, required=False)
    assignee = ScopedPrimaryKeyRelatedField(
        selector=_staff_users_for,
        model=User,
        required=False,
        allow_null=True,
        help_text=_("A user id of your agency's staff, or null to unassign."),
    )
    notes = serializers.CharField(required=False, allow_blank=True, max_length=10000)


class FindingStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=FindingStatus.choices)
    reason = serializers.CharField(required=False, allow_blank=True, max_length=500, default="")


# ---------------------------------------------------------------------------- cases


class CaseDeadlineSerializer(serializers.ModelSerializer):
    class Meta:
        model = CaseDeadline
        fields = ["id", "title", "due_on", "done"]
        read_only_fields = fields


class CaseSerializer(serializers.ModelSerializer):
    artists = ScopedIdListField(selector=artist_list_for, required=False)
    findings = ScopedIdListField(
        selector=_findings_by_id_for,
        required=False,
        write_only=True,
        help_text=_(
            "Finding ids to link when creating the case; afterwards use the findings action."
        ),
    )
    finding_count = serializers.SerializerMethodField()

    class Meta:
        model = Case
        fields = [
            "id",
            "reference",
            "title",
            "status",
            "artists",
            "findings",
            "finding_count",
            "jurisdiction",
            "police_report_number",
            "court_docket",
            "counsel_name",
            "counsel_email",
            "notes",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "reference", "created_at", "updated_at"]

    @extend_schema_field(serializers.IntegerField())
    def get_finding_count(self, case: Case) -> int:
        count = getattr(case, "finding_count", None)
        return case.findings.count() if count is None else count

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is not None and "findings" in attrs:
            raise serializers.ValidationError(
                {"findings": [_("Link or unlink findings with POST /api/cases/<id>/findings/.")]}
            )
        return attrs


class CaseDetailSerializer(CaseSerializer):
    finding_ids = serializers.SerializerMethodField()
    deadlines = CaseDeadlineSerializer(many=True, read_only=True)

    class Meta(CaseSerializer.Meta):
        fields = [*CaseSerializer.Meta.fields, "finding_ids", "deadlines"]

    @extend_schema_field(serializers.ListField(child=serializers.IntegerField()))
    def get_finding_ids(self, case: Case) -> list[int]:
        return sorted(case.findings.values_list("pk", flat=True))


class CaseLinkFindingsSerializer(serializers.Serializer):
    findings = ScopedIdListField(selector=_findings_by_id_for, allow_empty=False, max_length=10000)
    unlink = serializers.BooleanField(
        default=False, help_text=_("Remove these findings instead of adding them.")
    )


class CaseLinkResultSerializer(serializers.Serializer):
    changed = serializers.IntegerField(help_text=_("How many links were added or removed."))
    finding_ids = serializers.ListField(child=serializers.IntegerField())
