"""What every context's REST API shares: pagination, permissions, the agency mixin and the
agency-scoped id fields."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import User
from django.db import models
from django.db.models import Model, QuerySet
from django.template import loader
from django.utils.translation import gettext_lazy as _
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import serializers
from rest_framework.exceptions import NotAuthenticated
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from cases.kernel.models import Agency, Role
from cases.kernel.tenancy import (
    AnyUser,
    agency_for,
    can_write,
    is_agency_admin,
    membership_for,
    membership_list_for,
)

# DRF's classes are generic only in its stubs (subscripting them at run time fails).
if TYPE_CHECKING:
    # Not imported at run time: rest_framework.generics loads the API settings, which name
    # this module's permission classes.
    from rest_framework.generics import GenericAPIView

    _PrimaryKeyRelatedField = serializers.PrimaryKeyRelatedField[Model]
    _UserModelSerializer = serializers.ModelSerializer[User]
    _GenericAPIView = GenericAPIView[Any]
else:
    _PrimaryKeyRelatedField = serializers.PrimaryKeyRelatedField
    _UserModelSerializer = serializers.ModelSerializer
    _GenericAPIView = object


# The largest id a BigAutoField can hold.
MAX_ID = 2**63 - 1


class _StrictPageSize:
    """`page_size` is a whole number from 1 to max_page_size, or a 400 that says so (DRF
    would silently use the default, so a typo went unnoticed and the schema lied)."""

    page_size: int
    page_size_query_param: str | None = "page_size"
    max_page_size: int | None = 200

    def get_page_size(self, request: Any) -> int:
        name, most = self.page_size_query_param or "page_size", self.max_page_size or 200
        value = request.query_params.get(name)
        if value is None:
            return self.page_size
        if not re.fullmatch(r"[0-9]{1,4}", value) or not 1 <= int(value) <= most:
            raise serializers.ValidationError(
                {name: [_("A whole number from 1 to %(max)d.") % {"max": most}]}
            )
        return int(value)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters: list[dict[str, Any]] = super().get_schema_operation_parameters(view)  # type: ignore[misc]
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update(minimum=1, maximum=self.max_page_size)
        return parameters


class StandardPagination(_StrictPageSize, PageNumberPagination):
    page_size = 50


class FindingCursorPagination(_StrictPageSize, CursorPagination):
    """Findings can number in the hundreds of thousands: a cursor never counts the table."""

    page_size = 50
    ordering = ("-created_at", "-id")


class IsAgencyMember(BasePermission):
    """Authenticated members of an agency; viewers may only read."""

    message = _("You are not a member of an agency.")

    def has_permission(self, request: Any, view: Any) -> bool:
        membership = membership_for(request.user)
        if membership is None or not request.user.is_active:
            return False
        if request.method in SAFE_METHODS or can_write(request.user):
            return True
        # Instances live for one request, so the message can say which rule refused it.
        self.message = _("Your role can only read: writing needs the admin or legal role.")
        return False


class IsAgencyAdminOrReadOnly(IsAgencyMember):
    """The roster (artists, groups) is read by every member and changed by agency admins only."""

    def has_permission(self, request: Any, view: Any) -> bool:
        if not super().has_permission(request, view):
            return False
        if request.method in SAFE_METHODS or is_agency_admin(request.user):
            return True
        self.message = _("Only agency admins can change the roster.")
        return False


Selector = Callable[[AnyUser], QuerySet[Any]]


def _request_user(context: dict[str, Any]) -> AnyUser | None:
    request = context.get("request")
    return getattr(request, "user", None)


def _staff_users_for(user: AnyUser) -> QuerySet[User]:
    """Users who may be assigned a finding: the active staff of the caller's agency who can
    write (never read-only viewers), the same people the web form offers."""
    writers = membership_list_for(user).exclude(role=Role.VIEWER)
    return User.objects.filter(membership__in=writers, is_active=True)


class ScopedIdListField(serializers.ListField):
    """A list of ids resolved with one query inside the caller's agency. An id of another
    agency is indistinguishable from one that does not exist: both are a 400."""

    # Ids beyond a bigint exist nowhere; bounding them keeps them out of the query.
    child = serializers.IntegerField(min_value=1, max_value=MAX_ID)

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


class ScopedPrimaryKeyRelatedField(_PrimaryKeyRelatedField):
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


class _AbsentIsNull:
    """An optional e-mail or URL column (stored as "" when absent) seen through the API: an
    absent value is `null` both ways, never `""`, which is not a valid e-mail or URL and
    would break the schema's `format`. A client clears it by sending null; "" is refused."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["allow_null"] = True
        kwargs["allow_blank"] = False
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)

    def to_representation(self, value: Any) -> Any:
        return None if value in ("", None) else super().to_representation(value)  # type: ignore[misc]

    def run_validation(self, data: Any = serializers.empty) -> Any:
        value = super().run_validation(data)  # type: ignore[misc]
        return "" if value is None else value


class OptionalEmailField(_AbsentIsNull, serializers.EmailField):
    """An e-mail address or null."""


class OptionalURLField(_AbsentIsNull, serializers.URLField):
    """A URL or null."""


class StrictFilterBackend(DjangoFilterBackend):
    """A filter parameter sent with no value is a 400, not silently "no filter": the schema
    says what each one takes (a date-time, a status, an id), and "" is none of them."""

    def filter_queryset(self, request: Any, queryset: QuerySet[Any], view: Any) -> QuerySet[Any]:
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is not None:
            empty = {
                name: [_("Give a value, or leave the parameter out.")]
                for name in filterset_class.base_filters
                if "" in request.query_params.getlist(name)
            }
            if empty:
                raise serializers.ValidationError(empty)
        return super().filter_queryset(request, queryset, view)

    def to_html(self, request: Any, queryset: QuerySet[Any], view: Any) -> str:
        # The browsable API's filter form offers every filter, not only those in the query
        # string (cases.intake.filters.LeanFilterSet validates only those).
        filterset: Any = self.get_filterset(request, queryset, view)
        if filterset is None:
            return ""  # no filters: DRF shows no filter button for a falsy form
        filterset.all_fields = True
        return str(loader.get_template(self.template).render({"filter": filterset}, request))


class StrictCharField(serializers.CharField):
    """A string, and only a string: DRF would turn 5 or true into "5" or "True", accepting a
    body the schema (type: string) says is wrong."""

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """true or false, and only those: DRF would also take "yes", "0" or 1."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictModelSerializer(serializers.ModelSerializer):  # type: ignore[type-arg]
    """A ModelSerializer whose text and boolean fields take only JSON strings and booleans."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
        models.BooleanField: StrictBooleanField,
    }


class UserRefSerializer(_UserModelSerializer):
    class Meta:
        model = User
        fields = ["id", "username"]


def request_actor(request: Request) -> User:
    """The user who acts in an API request. IsAgencyMember already refused anonymous ones."""
    user = request.user
    if not user.is_authenticated:
        raise NotAuthenticated
    return user


class AgencyViewMixin(_GenericAPIView):
    @property
    def agency(self) -> Agency:
        # The permission class already refused users without an agency.
        agency = agency_for(self.request.user)
        assert agency is not None
        return agency

    @property
    def actor(self) -> User:
        return request_actor(self.request)
