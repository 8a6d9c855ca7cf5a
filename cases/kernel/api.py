"""What every context's REST API shares: pagination, permissions, the agency mixin and the
agency-scoped id fields."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from django.contrib.auth.models import User
from django.db.models import Model, QuerySet
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers
from rest_framework.exceptions import NotAuthenticated
from rest_framework.pagination import CursorPagination, PageNumberPagination
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from cases.kernel.models import Agency
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


class StandardPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class FindingCursorPagination(CursorPagination):
    """Findings can number in the hundreds of thousands: a cursor never counts the table."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
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
