"""REST API for platforms and notices, with the same rules as the rest of the API: every
read goes through a selector (another agency's object is a 404), viewers only read, and
every write is a service call (audited)."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from cases.agency.models import Platform
from cases.agency.selectors import platform_list_for
from cases.intake.models import Finding
from cases.intake.selectors import finding_list_for
from cases.kernel.api import (
    IsAgencyMember,
    OptionalEmailField,
    OptionalURLField,
    ScopedIdListField,
    StrictCharField,
)
from cases.kernel.tenancy import agency_for
from cases.matching.selectors import reference_media_list_for
from cases.notices.models import LegalBasis, Notice, NoticeChannel, NoticeLanguage, NoticeStatus
from cases.notices.selectors import notice_list_for, signer_profile_list_for
from cases.notices.services import drafts, outcomes, sending
from cases.notices.services.errors import NoticeError, NoticeSendRefused


class PlatformSerializer(serializers.ModelSerializer):
    abuse_email = OptionalEmailField(read_only=True)
    trusted_flagger_email = OptionalEmailField(read_only=True)
    web_form_url = OptionalURLField(read_only=True)

    class Meta:
        model = Platform
        fields = [
            "id",
            "name",
            "domains",
            "cdn_domains",
            "abuse_email",
            "trusted_flagger_email",
            "web_form_url",
            "channel",
            "languages",
            "notice_due_hours",
        ]
        read_only_fields = fields


class PlatformViewSet(viewsets.ReadOnlyModelViewSet):
    """The agency's platform table (edited by admins in the web UI)."""

    serializer_class = PlatformSerializer
    permission_classes = [IsAgencyMember]

    def get_queryset(self) -> QuerySet[Platform]:
        return platform_list_for(self.request.user).order_by("name", "id")


class NoticeSerializer(serializers.ModelSerializer):
    platform = serializers.CharField(source="platform.name", read_only=True)
    findings: serializers.PrimaryKeyRelatedField[Finding] = serializers.PrimaryKeyRelatedField(
        many=True, read_only=True
    )
    recipient = OptionalEmailField(read_only=True)

    class Meta:
        model = Notice
        fields = [
            "id",
            "platform",
            "legal_basis",
            "language",
            "channel",
            "status",
            "findings",
            "recipient",
            "due_at",
            "finalised_at",
            "sent_at",
            "acknowledged_at",
            "closed_at",
            "platform_reference",
            "message_id",
            "rendered_sha256",
            "created_at",
        ]
        read_only_fields = fields


class NoticeDetailSerializer(NoticeSerializer):
    class Meta(NoticeSerializer.Meta):
        fields = [
            *NoticeSerializer.Meta.fields,
            "explanation",
            "original_work_description",
            "rendered_subject",
            "rendered_body",
            "outcome_note",
            "submission_confirmation",
        ]
        read_only_fields = fields


class NoticeCreateSerializer(serializers.Serializer):
    findings = ScopedIdListField(selector=finding_list_for, min_length=1)
    legal_basis = serializers.ChoiceField(choices=LegalBasis.choices)
    language = serializers.ChoiceField(choices=NoticeLanguage.choices, default="en")
    channel = serializers.ChoiceField(choices=NoticeChannel.choices, required=False)
    signer = serializers.IntegerField(required=False, allow_null=True)
    explanation = StrictCharField(required=False, allow_blank=True, default="")
    original_work_description = StrictCharField(required=False, allow_blank=True, default="")
    reference_media = ScopedIdListField(selector=reference_media_list_for, required=False)


class NoticeSubmissionSerializer(serializers.Serializer):
    """A web-form notice was submitted on the platform's form: what the form returned."""

    platform_reference = StrictCharField(
        max_length=200, help_text="The reference or case number the platform's form returned."
    )
    submitted_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        default=None,
        help_text="When the form was submitted (default: now). The deadline starts here.",
    )
    confirmation = serializers.FileField(
        required=False,
        allow_null=True,
        default=None,
        help_text="The platform's confirmation page or e-mail: a screenshot or a PDF "
        "(multipart requests only).",
    )


class NoticeStatusSerializer(serializers.Serializer):
    action = serializers.ChoiceField(
        choices=[
            "acknowledge",
            NoticeStatus.ACTIONED,
            NoticeStatus.REJECTED,
            NoticeStatus.NO_RESPONSE,
        ]
    )
    platform_reference = StrictCharField(required=False, allow_blank=True, default="")
    note = StrictCharField(required=False, allow_blank=True, default="")


class NoticeViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    viewsets.GenericViewSet,
):
    """Takedown notices: create a draft from findings, send it, record the platform's answer."""

    permission_classes = [IsAgencyMember]

    def get_queryset(self) -> QuerySet[Notice]:
        return notice_list_for(self.request.user).prefetch_related("findings")

    def get_serializer_class(self) -> type[serializers.BaseSerializer]:
        by_action: dict[str, type[serializers.BaseSerializer]] = {
            "list": NoticeSerializer,
            "create": NoticeCreateSerializer,
            "set_status": NoticeStatusSerializer,
            "submission": NoticeSubmissionSerializer,
            "send": serializers.Serializer,
        }
        return by_action.get(self.action, NoticeDetailSerializer)

    def _detail(self, notice: Notice, code: int = status.HTTP_200_OK) -> Response:
        fresh = self.get_queryset().get(pk=notice.pk)
        return Response(NoticeDetailSerializer(fresh).data, status=code)

    @extend_schema(request=NoticeCreateSerializer, responses={201: NoticeDetailSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = NoticeCreateSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        signer_id = data.pop("signer", None)
        signer = None
        if signer_id is not None:
            signer = signer_profile_list_for(request.user).filter(pk=signer_id).first()
            if signer is None:
                raise serializers.ValidationError({"signer": ["Unknown signer."]})
        agency = agency_for(request.user)
        assert agency is not None
        try:
            notice = drafts.notice_create(
                agency=agency,
                actor=request.user,
                findings=data.pop("findings"),
                reference_media=data.pop("reference_media", ()),
                signer=signer,
                **data,
            )
        except NoticeError as exc:
            raise serializers.ValidationError({"non_field_errors": [str(exc)]}) from exc
        return self._detail(notice, status.HTTP_201_CREATED)

    @extend_schema(
        request=None,
        description=(
            "E-mail and trusted-flagger notices are sent (`status` `sent`). A web-form notice "
            "is only made final (`status` `awaiting_submission`, `sent_at` null) until its "
            "submission is recorded with the `submission` action."
        ),
        responses={
            200: NoticeDetailSerializer,
            400: OpenApiResponse(description="Required fields missing; `missing` names them."),
        },
    )
    @action(detail=True, methods=["post"], url_path="send", url_name="send")
    def send(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        notice = self.get_object()
        try:
            notice = sending.notice_send(notice=notice, actor=request.user)
        except NoticeSendRefused as exc:
            raise serializers.ValidationError(
                {"detail": str(exc), "missing": [req.key for req in exc.missing]}
            ) from exc
        except NoticeError as exc:
            raise serializers.ValidationError({"detail": str(exc)}) from exc
        return self._detail(notice)

    @extend_schema(request=NoticeStatusSerializer, responses=NoticeDetailSerializer)
    @action(detail=True, methods=["post"], url_path="status", url_name="status")
    def set_status(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        notice = self.get_object()
        serializer = NoticeStatusSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            if data["action"] == "acknowledge":
                notice = outcomes.notice_acknowledge(
                    notice=notice, actor=request.user, platform_reference=data["platform_reference"]
                )
            else:
                notice = outcomes.notice_close(
                    notice=notice, actor=request.user, outcome=data["action"], note=data["note"]
                )
        except NoticeError as exc:
            raise serializers.ValidationError({"detail": str(exc)}) from exc
        return self._detail(notice)

    @extend_schema(
        request={
            "application/json": NoticeSubmissionSerializer,
            "multipart/form-data": NoticeSubmissionSerializer,
        },
        description=(
            "Record that a web-form notice awaiting submission was submitted on the "
            "platform's form. The notice becomes `sent` with `sent_at` = `submitted_at`, "
            "and its deadline starts then."
        ),
        responses={
            200: NoticeDetailSerializer,
            400: OpenApiResponse(
                description="Not awaiting submission, no reference number, a submission "
                "time in the future or before the text was final, or a refused file."
            ),
        },
    )
    # The one API operation that takes a file: JSON everywhere else (settings), multipart here.
    @action(
        detail=True,
        methods=["post"],
        url_path="submission",
        url_name="submission",
        parser_classes=[JSONParser, MultiPartParser],
    )
    def submission(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        notice = self.get_object()
        serializer = NoticeSubmissionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        upload = data["confirmation"]
        try:
            notice = sending.notice_record_submission(
                notice=notice,
                actor=request.user,
                platform_reference=data["platform_reference"],
                submitted_at=data["submitted_at"],
                confirmation=upload,
                confirmation_name=upload.name if upload else "",
            )
        except NoticeError as exc:
            raise serializers.ValidationError({"detail": str(exc)}) from exc
        return self._detail(notice)
