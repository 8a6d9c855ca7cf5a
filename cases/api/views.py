"""REST API. Each view reads through cases.selectors (so another agency's object is a 404)
and writes through cases.services (so every change lands in the audit trail)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from cases.api import serializers as s
from cases.api.pagination import FindingCursorPagination
from cases.api.permissions import IsAgencyAdminOrReadOnly, IsAgencyMember
from cases.filters import FindingFilter
from cases.models import Agency, Artist, Case, Finding, FindingSource, Group
from cases.selectors import (
    agency_for,
    artist_list_for,
    case_list_for,
    finding_get_for,
    finding_list_for,
    group_list_for,
)
from cases.services.findings import (
    StatusChangeError,
    finding_record,
    finding_set_status,
    finding_update,
)
from cases.services.legal_cases import case_create, case_link_findings, case_update
from cases.services.roster import artist_save, group_delete, group_save


class AgencyViewMixin:
    request: Request

    @property
    def agency(self) -> Agency:
        # The permission class already refused users without an agency.
        agency = agency_for(self.request.user)
        assert agency is not None
        return agency


# ---------------------------------------------------------------------------- roster


class ArtistViewSet(
    AgencyViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """The agency's artists. Admins change them; artists are deactivated (`active: false`),
    never deleted, because findings and cases refer to them."""

    serializer_class = s.ArtistSerializer
    permission_classes = [IsAgencyAdminOrReadOnly]

    def get_queryset(self) -> QuerySet[Artist]:
        return artist_list_for(self.request.user)

    def perform_create(self, serializer: s.ArtistSerializer) -> None:
        fields = dict(serializer.validated_data)
        groups = fields.pop("groups", None)
        serializer.instance = artist_save(
            agency=self.agency, actor=self.request.user, groups=groups, **fields
        )

    def perform_update(self, serializer: s.ArtistSerializer) -> None:
        fields = dict(serializer.validated_data)
        groups = fields.pop("groups", None)
        artist_save(
            agency=self.agency,
            actor=self.request.user,
            artist=serializer.instance,
            groups=groups,
            **fields,
        )


class GroupViewSet(AgencyViewMixin, viewsets.ModelViewSet):
    """The agency's groups. Admins create, change and delete them."""

    serializer_class = s.GroupSerializer
    permission_classes = [IsAgencyAdminOrReadOnly]

    def get_queryset(self) -> QuerySet[Group]:
        # The count annotation drops Meta.ordering (GROUP BY), and pages need a stable order.
        return group_list_for(self.request.user).order_by("name", "id")

    def perform_create(self, serializer: s.GroupSerializer) -> None:
        serializer.instance = group_save(
            agency=self.agency, actor=self.request.user, **serializer.validated_data
        )

    def perform_update(self, serializer: s.GroupSerializer) -> None:
        group_save(
            agency=self.agency,
            actor=self.request.user,
            group=serializer.instance,
            **serializer.validated_data,
        )

    def perform_destroy(self, instance: Group) -> None:
        group_delete(group=instance, actor=self.request.user)


# ---------------------------------------------------------------------------- findings


@extend_schema_view(
    list=extend_schema(summary="List findings (cursor-paginated, newest first)"),
    retrieve=extend_schema(responses=s.FindingDetailSerializer),
)
class FindingViewSet(AgencyViewMixin, viewsets.ReadOnlyModelViewSet):
    """Findings: record a URL (deduplicated), edit, change status. Never deleted: a
    finding that turns out harmless is dismissed with a reason."""

    serializer_class = s.FindingSerializer
    permission_classes = [IsAgencyMember]
    pagination_class = FindingCursorPagination
    filterset_class = FindingFilter

    def get_queryset(self) -> QuerySet[Finding]:
        return finding_list_for(self.request.user)

    def get_object(self) -> Finding:
        # The detail shows `url` and `notes`, which the list selector defers.
        finding = finding_get_for(self.request.user, self.kwargs["pk"])
        self.check_object_permissions(self.request, finding)
        return finding

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        # Per action, so the browsable API offers the right form for each.
        return {
            "list": s.FindingSerializer,
            "create": s.FindingCreateSerializer,
            "partial_update": s.FindingUpdateSerializer,
            "set_status": s.FindingStatusSerializer,
        }.get(self.action, s.FindingDetailSerializer)

    def _detail(self, finding: Finding, http_status: int = status.HTTP_200_OK) -> Response:
        return Response(
            s.FindingDetailSerializer(finding, context=self.get_serializer_context()).data,
            status=http_status,
        )

    @extend_schema(
        request=s.FindingCreateSerializer,
        responses={
            201: OpenApiResponse(
                s.FindingRecordedSerializer, description="A new finding was recorded."
            ),
            200: OpenApiResponse(
                s.FindingRecordedSerializer,
                description="The URL was already recorded: the existing finding.",
            ),
            400: OpenApiResponse(description="Invalid URL, or artist ids not in your agency."),
        },
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Record a URL. A URL whose canonical form is already recorded returns the existing
        finding with `duplicate: true` (its artists and notes are left as they are)."""
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        finding, created = finding_record(
            agency=self.agency,
            url=data["url"],
            actor=request.user,
            source=FindingSource.API,
            artists=data.get("artists", ()),
            notes=data.get("notes", ""),
        )
        finding.duplicate = not created  # type: ignore[attr-defined]
        body = s.FindingRecordedSerializer(finding, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(request=s.FindingUpdateSerializer, responses=s.FindingDetailSerializer)
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
        request=s.FindingStatusSerializer,
        responses={
            200: s.FindingDetailSerializer,
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


# ---------------------------------------------------------------------------- cases


class CaseViewSet(
    AgencyViewMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Legal cases. Closed with `status: closed`, never deleted (they are evidence of
    what the agency did)."""

    serializer_class = s.CaseDetailSerializer
    permission_classes = [IsAgencyMember]

    def get_queryset(self) -> QuerySet[Case]:
        return case_list_for(self.request.user).order_by("-created_at", "-id")

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        return s.CaseSerializer if self.action == "list" else s.CaseDetailSerializer

    def perform_create(self, serializer: s.CaseDetailSerializer) -> None:
        fields = dict(serializer.validated_data)
        serializer.instance = case_create(
            agency=self.agency,
            actor=self.request.user,
            artists=fields.pop("artists", ()),
            findings=fields.pop("findings", ()),
            **fields,
        )

    def perform_update(self, serializer: s.CaseDetailSerializer) -> None:
        fields = dict(serializer.validated_data)
        case_update(
            case=serializer.instance,
            actor=self.request.user,
            artists=fields.pop("artists", None),
            **fields,
        )

    @extend_schema(request=s.CaseLinkFindingsSerializer, responses=s.CaseLinkResultSerializer)
    @action(detail=True, methods=["post"], url_path="findings", url_name="findings")
    def link_findings(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Link findings of your agency to the case (or unlink them with `unlink: true`)."""
        case = self.get_object()
        serializer = s.CaseLinkFindingsSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        changed = case_link_findings(
            case=case,
            actor=request.user,
            findings=serializer.validated_data["findings"],
            unlink=serializer.validated_data["unlink"],
        )
        finding_ids = sorted(case.findings.values_list("pk", flat=True))
        return Response(
            s.CaseLinkResultSerializer({"changed": changed, "finding_ids": finding_ids}).data
        )
