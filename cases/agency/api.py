"""REST API of the roster: artists and groups. Reads through selectors (another agency's
object is a 404), writes through services (every change lands in the audit trail)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    extend_schema_field,
)
from rest_framework import mixins, serializers, viewsets

from cases.agency.models import Artist, Group, Platform
from cases.agency.selectors import artist_list_for, group_list_for
from cases.agency.services.roster import artist_save, group_delete, group_save
from cases.kernel.api import (
    AgencyViewMixin,
    IsAgencyAdminOrReadOnly,
    ScopedIdListField,
    StrictCharField,
    StrictModelSerializer,
    _request_user,
)
from cases.kernel.tenancy import can_see_legal_names

User = get_user_model()


# ---------------------------------------------------------------------------- roster


class GroupSerializer(StrictModelSerializer):
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


class ArtistSerializer(StrictModelSerializer):
    groups = ScopedIdListField(selector=group_list_for, required=False)
    aliases = serializers.ListField(
        child=StrictCharField(max_length=120), required=False, max_length=50
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

    serializer_class = ArtistSerializer
    permission_classes = [IsAgencyAdminOrReadOnly]

    def get_queryset(self) -> QuerySet[Artist]:
        return artist_list_for(self.request.user)

    def perform_create(self, serializer: serializers.BaseSerializer[Artist]) -> None:
        fields = dict(serializer.validated_data)
        groups = fields.pop("groups", None)
        serializer.instance = artist_save(
            agency=self.agency, actor=self.actor, groups=groups, **fields
        )

    def perform_update(self, serializer: serializers.BaseSerializer[Artist]) -> None:
        fields = dict(serializer.validated_data)
        groups = fields.pop("groups", None)
        artist_save(
            agency=self.agency,
            actor=self.actor,
            artist=serializer.instance,
            groups=groups,
            **fields,
        )


class GroupViewSet(AgencyViewMixin, viewsets.ModelViewSet):
    """The agency's groups. Admins create, change and delete them."""

    serializer_class = GroupSerializer
    permission_classes = [IsAgencyAdminOrReadOnly]

    def get_queryset(self) -> QuerySet[Group]:
        # The count annotation drops Meta.ordering (GROUP BY), and pages need a stable order.
        return group_list_for(self.request.user).order_by("name", "id")

    def perform_create(self, serializer: serializers.BaseSerializer[Group]) -> None:
        serializer.instance = group_save(
            agency=self.agency, actor=self.actor, **serializer.validated_data
        )

    def perform_update(self, serializer: serializers.BaseSerializer[Group]) -> None:
        group_save(
            agency=self.agency,
            actor=self.actor,
            group=serializer.instance,
            **serializer.validated_data,
        )

    def perform_destroy(self, instance: Group) -> None:
        group_delete(group=instance, actor=self.actor)
