"""REST API of findings. Reads through selectors (another agency's finding is a 404),
writes through services (every change lands in the audit trail); every id a client sends is
resolved inside the caller's own agency."""

from __future__ import annotations

from datetime import datetime, tzinfo
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from cases.agency.api import ArtistRefSerializer, PlatformRefSerializer
from cases.agency.selectors import artist_list_for
from cases.agency.services.platforms import PlatformIndex
from cases.intake.canonical import NO_RULES, InvalidURL, canonicalize_url
from cases.intake.filters import FindingFilter
from cases.intake.list_names import list_rows_named
from cases.intake.models import Finding, FindingSource, FindingStatus
from cases.intake.selectors import (
    LIST_TIMES,
    finding_get_for,
    finding_list_for,
    finding_list_rows_for,
)
from cases.intake.services.findings import (
    StatusChangeError,
    finding_record,
    finding_set_status,
    finding_update,
)
from cases.intake.services.url_rules import url_rules
from cases.intake.triage_choices import triage_choices_for
from cases.kernel.api import (
    AgencyViewMixin,
    FindingCursorPagination,
    IsAgencyMember,
    ScopedIdListField,
    ScopedPrimaryKeyRelatedField,
    StrictCharField,
    UserRefSerializer,
    _staff_users_for,
)
from cases.kernel.tenancy import AnyUser, agency_for

User = get_user_model()


def _findings_by_id_for(user: AnyUser) -> QuerySet[Finding]:
    # Linking needs only the rows, not the list page's artist prefetch.
    return finding_list_for(user).prefetch_related(None)


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
            *LIST_TIMES,
        ]
        read_only_fields = fields

    def to_representation(self, instance: Finding | dict[str, Any]) -> dict[str, Any]:
        """For the list page's plain rows (finding_list_rows_for, named by
        list_names.list_rows_named), the dictionary DRF's
        generic path builds for the model, written out: no model and no per-field
        serializer call per row (a test compares both). A model takes the generic path."""
        if not isinstance(instance, dict):
            return super().to_representation(instance)
        row = instance
        platform_id, assignee_id = row["platform_id"], row["assignee_id"]
        data: dict[str, Any] = {
            "id": row["id"],
            "canonical_url": row["canonical_url"],
            "host": row["host"],
            "platform": None
            if platform_id is None
            else {"id": platform_id, "name": row["platform_name"]},
            "artists": row["artists"],
            "source": row["source"],
            "status": row["status"],
            "dismissed_reason": row["dismissed_reason"],
            "assignee": None
            if assignee_id is None
            else {"id": assignee_id, "username": row["assignee_username"]},
        }
        # The current zone once per serializer (a list's child serves the whole page): the
        # thread-local lookup was a tenth of serialising a row.
        zone = self.__dict__.get("_zone")
        if zone is None:
            zone = self._zone = timezone.get_current_timezone()
        for name in LIST_TIMES:
            value = row[name]
            data[name] = None if value is None else _iso_time(value, zone)
        return data


_DATETIME = serializers.DateTimeField()


def _iso_time(value: datetime, zone: tzinfo) -> str:
    """DateTimeField.to_representation of a stored (aware) time in `zone`, the current time
    zone it would look up itself: ISO 8601, "Z" for UTC."""
    try:
        text = value.astimezone(zone).isoformat()
    except OverflowError:  # the field's own error for a time its zone cannot show
        return str(_DATETIME.to_representation(value))
    return text[:-6] + "Z" if text.endswith("+00:00") else text


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
    # Not blankable: the schema says so (minLength 1), and a blank URL is refused anyway.
    url = StrictCharField(
        trim_whitespace=False,
        help_text=_("An http or https URL."),
        error_messages={"blank": _("The URL is empty.")},
    )
    artists = ScopedIdListField(selector=artist_list_for, required=False)
    notes = StrictCharField(required=False, allow_blank=True, max_length=10000)

    def validate_url(self, value: str) -> str:
        # The same rules finding_record applies, checked here so the reason lands on `url`.
        try:
            canonicalize_url(value, self.context.get("url_rules", NO_RULES))
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
    notes = StrictCharField(required=False, allow_blank=True, max_length=10000)


class FindingStatusSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=FindingStatus.choices)
    reason = StrictCharField(required=False, allow_blank=True, max_length=500, default="")


# ---------------------------------------------------------------------------- findings


@extend_schema_view(
    list=extend_schema(summary="List findings (cursor-paginated, newest first)"),
    retrieve=extend_schema(responses=FindingDetailSerializer),
)
class FindingViewSet(AgencyViewMixin, viewsets.ReadOnlyModelViewSet):
    """Findings: record a URL (deduplicated), edit, change status. Never deleted: a
    finding that turns out harmless is dismissed with a reason."""

    serializer_class = FindingSerializer
    permission_classes = [IsAgencyMember]
    pagination_class = FindingCursorPagination
    filterset_class = FindingFilter

    def get_queryset(self) -> QuerySet[Finding, Any]:
        if self.action == "list":  # plain rows from one single-table query
            return finding_list_rows_for(self.request.user)
        return finding_list_for(self.request.user)

    def paginate_queryset(self, queryset: Any) -> list[Any] | None:
        page = super().paginate_queryset(queryset)
        if page is not None and self.action == "list":
            agency = agency_for(self.request.user)
            assert agency is not None  # IsAgencyMember
            list_rows_named(page, triage_choices_for(agency))
        return page

    def get_object(self) -> Finding:
        # The detail shows `url` and `notes`, which the list selector defers.
        finding = finding_get_for(self.request.user, self.kwargs["pk"])
        self.check_object_permissions(self.request, finding)
        return finding

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        # Per action, so the browsable API offers the right form for each.
        by_action: dict[str, type[serializers.BaseSerializer]] = {
            "list": FindingSerializer,
            "create": FindingCreateSerializer,
            "partial_update": FindingUpdateSerializer,
            "set_status": FindingStatusSerializer,
        }
        return by_action.get(self.action, FindingDetailSerializer)

    def _detail(self, finding: Finding, http_status: int = status.HTTP_200_OK) -> Response:
        return Response(
            FindingDetailSerializer(finding, context=self.get_serializer_context()).data,
            status=http_status,
        )

    @extend_schema(
        request=FindingCreateSerializer,
        responses={
            201: OpenApiResponse(
                FindingRecordedSerializer, description="A new finding was recorded."
            ),
            200: OpenApiResponse(
                FindingRecordedSerializer,
                description="The URL was already recorded: the existing finding.",
            ),
            400: OpenApiResponse(description="Invalid URL, or artist ids not in your agency."),
        },
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Record a URL. A URL whose canonical form is already recorded returns the existing
        finding with `duplicate: true` (its artists and notes are left as they are)."""
        platforms = PlatformIndex.for_agency(self.agency)  # read once for this request
        serializer = self.get_serializer(
            data=request.data,
            context={**self.get_serializer_context(), "url_rules": url_rules(platforms)},
        )
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        finding, created = finding_record(
            agency=self.agency,
            url=data["url"],
            actor=request.user,
            source=FindingSource.API,
            artists=data.get("artists", ()),
            notes=data.get("notes", ""),
            platforms=platforms,
        )
        finding.duplicate = not created  # type: ignore[attr-defined]
        body = FindingRecordedSerializer(finding, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(request=FindingUpdateSerializer, responses=FindingDetailSerializer)
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Change the artists, the assignee or the notes of a finding."""
        finding = self.get_object()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        finding = finding_update(
            finding=finding,
            actor=request.user,
            artists=data.get("artists"),
            # False means "leave as is"; None (sent as null) unassigns.
            assignee=data.get("assignee", False),
            notes=data.get("notes"),
        )
        return self._detail(finding)

    @extend_schema(
        request=FindingStatusSerializer,
        responses={
            200: FindingDetailSerializer,
            400: OpenApiResponse(
                description="The lifecycle does not allow this change; `status` says why."
            ),
        },
    )
    @action(detail=True, methods=["post"], url_path="status", url_name="status")
    def set_status(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Move a finding along its lifecycle (dismissing needs a `reason`)."""
        finding = self.get_object()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            finding = finding_set_status(
                finding=finding,
                status=serializer.validated_data["status"],
                reason=serializer.validated_data["reason"],
                actor=request.user,
            )
        except StatusChangeError as exc:
            raise serializers.ValidationError({"status": [str(exc)]}) from exc
        return self._detail(finding_get_for(request.user, finding.pk))
