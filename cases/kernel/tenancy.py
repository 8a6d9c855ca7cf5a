"""Who may see and do what: the user's membership, agency and role, and the scoping every
selector applies. Every read of agency data goes through a selector that takes the user, so
an outsider's query simply finds nothing."""

from __future__ import annotations

from typing import Any, TypeVar, cast

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ValidationError
from django.db.models import Model, QuerySet
from django.http import Http404

from cases.kernel.models import Agency, Membership, Role

# request.user before anyone checked it. Services that record who acted take a `User`:
# views behind member_required and API views behind IsAgencyMember have one.
AnyUser = User | AnonymousUser
ModelT = TypeVar("ModelT", bound=Model)


def membership_for(user: AnyUser) -> Membership | None:
    """The user's membership, cached on the user object for the request."""
    if not user.is_authenticated:
        return None
    cached = getattr(user, "_membership_cache", False)
    if cached is not False:
        return cast("Membership | None", cached)
    membership = Membership.objects.select_related("agency").filter(user=user).first()
    user._membership_cache = membership  # type: ignore[attr-defined]
    return membership


def agency_for(user: AnyUser) -> Agency | None:
    membership = membership_for(user)
    return membership.agency if membership and user.is_active else None


def can_write(user: AnyUser) -> bool:
    membership = membership_for(user)
    return bool(membership and membership.can_write)


def is_agency_admin(user: AnyUser) -> bool:
    membership = membership_for(user)
    return bool(membership and membership.role == Role.ADMIN)


def can_see_legal_names(user: AnyUser) -> bool:
    membership = membership_for(user)
    return bool(membership and membership.role in (Role.ADMIN, Role.LEGAL))


def scoped(queryset: QuerySet[ModelT], user: AnyUser, field: str = "agency") -> QuerySet[ModelT]:
    agency = agency_for(user)
    if agency is None:
        return queryset.none()
    return queryset.filter(**{field: agency})


def get_or_404(queryset: QuerySet[ModelT], **lookup: Any) -> ModelT:
    """The one object matching `lookup`, or Http404. A lookup value the field cannot take
    (a pk of "abc" from the URL, a number too large for the column) matches nothing: 404,
    not a 500."""
    try:
        filtered = queryset.filter(**lookup)  # preparing the value raises, not the query
    except (ValueError, TypeError, ValidationError) as exc:
        raise Http404 from exc
    try:
        obj = filtered.first()
    except OverflowError as exc:  # SQLite: an integer beyond 64 bits
        raise Http404 from exc
    if obj is None:
        raise Http404
    return obj


def membership_list_for(user: AnyUser) -> QuerySet[Membership]:
    return scoped(Membership.objects.select_related("user"), user)
