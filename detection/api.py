"""REST API of detection: an evidence item's detection runs, and the detectors' model cards.

Same rules as the cases API (cases/kernel/api.py): reads go through selectors (another agency's evidence, or a detector
that never scored the caller's agency and is not active, is a 404), every member reads,
and the one write, retrying a failed run, needs the legal or admin role. Every number comes with what it is (a calibrated probability only with
a calibration fitted on held-out data, else the model's raw score), whether it may headline,
its model's caveats and small-sample warning, and a link to its model card."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import path, reverse
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from cases.kernel.api import IsAgencyMember
from cases.kernel.api_schema import ErrorSerializer
from detection import statements
from detection.models import DetectionRun, DetectorVersion
from detection.selectors import (
    detection_evidence_get_for,
    detection_run_get_for,
    detection_runs_for,
    detector_version_get_for,
    detector_version_list_for,
)
from detection.services.runs import DetectionError, detection_run_retry


class GateSerializer(serializers.Serializer):
    name = serializers.CharField()
    value = serializers.FloatField(allow_null=True)
    threshold = serializers.CharField()
    passed = serializers.BooleanField()
    detail = serializers.CharField(allow_blank=True)


class DetectorCardSerializer(serializers.ModelSerializer):
    """A model card: what the model is, its gates, whether its numbers are calibrated."""

    calibrated = serializers.BooleanField(read_only=True)
    headline_eligible = serializers.BooleanField(read_only=True)
    calibration = serializers.SerializerMethodField()
    metrics = serializers.DictField(read_only=True)
    gates = serializers.SerializerMethodField()
    caveats = serializers.ListField(child=serializers.CharField(), read_only=True)
    small_sample_warning = serializers.CharField(read_only=True)
    training_data = serializers.SerializerMethodField()
    licence = serializers.SerializerMethodField()
    limits = serializers.SerializerMethodField()
    card_page = serializers.SerializerMethodField()

    class Meta:
        model = DetectorVersion
        fields = [
            "id",
            "key",
            "version",
            "architecture",
            "checkpoint_sha256",
            "active",
            "legacy",
            "gates_passed",
            "headline_eligible",
            "calibrated",
            "calibration",
            "metrics",
            "gates",
            "caveats",
            "small_sample_warning",
            "training_data",
            "licence",
            "limits",
            "registered_at",
            "card_page",
        ]
        read_only_fields = fields

    def get_calibration(self, version: DetectorVersion) -> dict[str, Any]:
        return dict((version.card or {}).get("calibration") or {"method": "none"})

    @extend_schema_field(GateSerializer(many=True))
    def get_gates(self, version: DetectorVersion) -> list[dict[str, Any]]:
        return GateSerializer(version.gate_results, many=True).data  # type: ignore[return-value]

    def get_training_data(self, version: DetectorVersion) -> Any:
        return (version.card or {}).get("training_data") or {}

    def get_licence(self, version: DetectorVersion) -> str:
        return str((version.card or {}).get("licence") or "")

    def get_limits(self, version: DetectorVersion) -> str:
        return str((version.card or {}).get("limits") or "")

    def get_card_page(self, version: DetectorVersion) -> str:
        return _absolute(self.context, reverse("detector_detail", args=[version.pk]))


def _absolute(context: dict[str, Any], url: str) -> str:
    request = context.get("request")
    return request.build_absolute_uri(url) if request is not None else url


class RunDetectorSerializer(serializers.ModelSerializer):
    card = serializers.SerializerMethodField()
    card_page = serializers.SerializerMethodField()

    class Meta:
        model = DetectorVersion
        fields = [
            "id",
            "key",
            "version",
            "architecture",
            "legacy",
            "gates_passed",
            "card",
            "card_page",
        ]
        read_only_fields = fields

    def get_card(self, version: DetectorVersion) -> str:
        return _absolute(self.context, reverse("api:detector-detail", args=[version.pk]))

    def get_card_page(self, version: DetectorVersion) -> str:
        return _absolute(self.context, reverse("detector_detail", args=[version.pk]))


class DetectionRunSerializer(serializers.ModelSerializer):
    """One run: its number named for what it is, with its model's caveats."""

    detector = RunDetectorSerializer(source="detector_version", read_only=True, allow_null=True)
    score = serializers.SerializerMethodField()
    score_kind = serializers.SerializerMethodField()
    calibrated_probability_fake = serializers.SerializerMethodField()
    raw_model_score_fake = serializers.SerializerMethodField()
    headline = serializers.SerializerMethodField()
    caveats = serializers.SerializerMethodField()
    small_sample_warning = serializers.SerializerMethodField()

    class Meta:
        model = DetectionRun
        fields = [
            "id",
            "status",
            "message",
            "error",
            "score",
            "score_kind",
            "calibrated_probability_fake",
            "raw_model_score_fake",
            "headline",
            "caveats",
            "small_sample_warning",
            "detector",
            "checkpoint_sha256",
            "faces",
            "provenance",
            "frames_analyzed",
            "device",
            "created_at",
            "finished_at",
        ]
        read_only_fields = fields

    def _statement(self, run: DetectionRun) -> dict[str, Any]:
        cache = self.context.setdefault("_statements", {})
        if run.pk not in cache:
            cache[run.pk] = statements.run_score_statement(run)
        return cache[run.pk]

    def get_score(self, run: DetectionRun) -> float | None:
        return self._statement(run)["score"]

    def get_score_kind(self, run: DetectionRun) -> str | None:
        return self._statement(run)["score_kind"]

    def get_calibrated_probability_fake(self, run: DetectionRun) -> float | None:
        return self._statement(run)["calibrated_probability_fake"]

    def get_raw_model_score_fake(self, run: DetectionRun) -> float | None:
        return self._statement(run)["raw_model_score_fake"]

    def get_headline(self, run: DetectionRun) -> bool:
        return bool(self._statement(run)["headline"])

    def get_caveats(self, run: DetectionRun) -> list[str]:
        return list(self._statement(run)["caveats"])

    def get_small_sample_warning(self, run: DetectionRun) -> str:
        return str(self._statement(run)["small_sample_warning"])


class EvidenceDetectionsSerializer(serializers.Serializer):
    evidence = serializers.IntegerField()
    no_trained_detector = serializers.BooleanField()
    headline = DetectionRunSerializer(allow_null=True)
    runs = DetectionRunSerializer(many=True)


class DetectorViewSet(viewsets.ReadOnlyModelViewSet):
    """Model cards of the detectors a member may read: the active ones, and those that scored
    the agency's evidence."""

    serializer_class = DetectorCardSerializer
    permission_classes = [IsAgencyMember]

    def get_queryset(self) -> QuerySet[DetectorVersion]:
        return detector_version_list_for(self.request.user)

    def get_object(self) -> DetectorVersion:
        version = detector_version_get_for(self.request.user, self.kwargs["pk"])
        self.check_object_permissions(self.request, version)
        return version


class EvidenceDetectionsView(generics.GenericAPIView):
    """An evidence item's detection runs (newest first, at most 50) and its headline score:
    the latest run's number only when a gate-passing, non-legacy detector with a calibration
    fitted on held-out data produced it; otherwise `headline` is null."""

    serializer_class = EvidenceDetectionsSerializer
    permission_classes = [IsAgencyMember]
    pagination_class = None

    @extend_schema(responses=EvidenceDetectionsSerializer)
    def get(self, request: Request, pk: int) -> Response:
        evidence = detection_evidence_get_for(request.user, pk)
        runs = list(detection_runs_for(request.user, evidence)[:50])
        latest = runs[0] if runs else None
        installed = DetectorVersion.objects.filter(
            active=True, gates_passed=True, legacy=False
        ).exists()
        body = {
            "evidence": evidence.pk,
            "no_trained_detector": not installed,
            "headline": latest if latest is not None and latest.is_headline else None,
            "runs": runs,
        }
        return Response(self.get_serializer(body).data)


class EvidenceDetectionRetryView(generics.GenericAPIView):
    """Retry a failed detection run of an evidence item: the same run goes back to the
    queue (audited as detection.retried) and is answered with 202 and the queued run. Only
    a run whose status is "failed" can be retried (409 otherwise); a viewer cannot (403)."""

    serializer_class = DetectionRunSerializer
    permission_classes = [IsAgencyMember]
    pagination_class = None

    @extend_schema(
        request=None,
        responses={
            202: DetectionRunSerializer,
            409: OpenApiResponse(ErrorSerializer, description="Only a failed run can be retried."),
        },
    )
    def post(self, request: Request, pk: int, run_pk: int) -> Response:
        evidence = detection_evidence_get_for(request.user, pk)
        run = detection_run_get_for(request.user, evidence, run_pk)
        try:
            detection_run_retry(run=run, actor=request.user)
        except DetectionError as exc:
            return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
        return Response(self.get_serializer(run).data, status=status.HTTP_202_ACCEPTED)


router = SimpleRouter()
router.register("detectors", DetectorViewSet, basename="detector")

urlpatterns = [
    path(
        "evidence/<int:pk>/detections/",
        EvidenceDetectionsView.as_view(),
        name="evidence-detections",
    ),
    path(
        "evidence/<int:pk>/detections/<int:run_pk>/retry/",
        EvidenceDetectionRetryView.as_view(),
        name="evidence-detection-retry",
    ),
    *router.urls,
]
