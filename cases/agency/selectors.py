"""Reads of the roster, staff and platforms, always scoped to the user's agency."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from cases.agency.models import Artist, Group, Platform
from cases.kernel.tenancy import AnyUser, get_or_404, scoped


def artist_list_for(user: AnyUser) -> QuerySet[Artist]:
    return scoped(Artist.objects.prefetch_related("groups"), user)


def artist_get_for(user: AnyUser, pk: int | str) -> Artist:
    return get_or_404(artist_list_for(user), pk=pk)


def group_list_for(user: AnyUser) -> QuerySet[Group]:
    return scoped(Group.objects.annotate(artist_count=Count("artists")), user)


def group_get_for(user: AnyUser, pk: int | str) -> Group:
    return get_or_404(scoped(Group.objects.all(), user), pk=pk)


def platform_list_for(user: AnyUser) -> QuerySet[Platform]:
    return scoped(Platform.objects.all(), user)
