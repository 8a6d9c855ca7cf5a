"""REST API of legal cases: list, create, update, link findings."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    extend_schema,
    extend_schema_field,
)
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from cases.agency.selectors import artist_list_for
from cases.intake.api import _findings_by_id_for
from cases.kernel.api import (
    AgencyViewMixin,
    IsAgencyMember,
    OptionalEmailField,
    ScopedIdListField,
    StrictBooleanField,
    StrictModelSerializer,
)
from cases.legal.models import Case, CaseDeadline
from cases.legal.selectors import case_list_for
from cases.legal.services.legal_cases import case_create, case_link_findings, case_update

# ---------------------------------------------------------------------------- cases


class CaseDeadlineSerializer(serializers.ModelSerializer):
    class Meta:
        model = CaseDeadline
        fields = ["id", "title", "due_on", "done"]
        read_only_fields = fields


class CaseSerializer(StrictModelSerializer):
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
    counsel_email = OptionalEmailField(max_length=254)

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
    unlink = StrictBooleanField(
        default=False, help_text=_("Remove these findings instead of adding them.")
    )


class CaseLinkResultSerializer(serializers.Serializer):
    changed = serializers.IntegerField(help_text=_("How many links were added or removed."))
    finding_ids = serializers.ListField(child=serializers.IntegerField())


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

    serializer_class = CaseDetailSerializer
    permission_classes = [IsAgencyMember]

    def get_queryset(self) -> QuerySet[Case]:
        return case_list_for(self.request.user).order_by("-created_at", "-id")

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Case]]:
        return CaseSerializer if self.action == "list" else CaseDetailSerializer

    def perform_create(self, serializer: serializers.BaseSerializer[Case]) -> None:
        fields = dict(serializer.validated_data)
        serializer.instance = case_create(
            agency=self.agency,
            actor=self.actor,
            artists=fields.pop("artists", ()),
            findings=fields.pop("findings", ()),
            **fields,
        )

    def perform_update(self, serializer: serializers.BaseSerializer[Case]) -> None:
        fields = dict(serializer.validated_data)
        assert serializer.instance is not None  # UpdateModelMixin.update passed the case
        case_update(
            case=serializer.instance,
            actor=self.actor,
            artists=fields.pop("artists", None),
            **fields,
        )

    @extend_schema(request=CaseLinkFindingsSerializer, responses=CaseLinkResultSerializer)
    @action(detail=True, methods=["post"], url_path="findings", url_name="findings")
    def link_findings(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Link findings of your agency to the case (or unlink them with `unlink: true`)."""
        case = self.get_object()
        serializer = CaseLinkFindingsSerializer(
            data=request.data, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        changed = case_link_findings(
            case=case,
            actor=self.actor,
            findings=serializer.validated_data["findings"],
            unlink=serializer.validated_data["unlink"],
        )
        finding_ids = sorted(case.findings.values_list("pk", flat=True))
        return Response(
            CaseLinkResultSerializer({"changed": changed, "finding_ids": finding_ids}).data
        )
