"""The triage filter bar's choice lists (artists, platforms, assignable members), the
agency's saved views and the names the lists' rows show (cases.intake.list_names), cached per
agency and invalidated on every change.

Four small queries on every queue page were a third of the page's round trips at a million
findings. They change rarely, so they are kept in the cache under a per-agency generation
number that moves on whenever an artist, platform, membership, saved view or a member's user
name is saved or deleted (signals connected in `connect_invalidation`), now and again once
that transaction commits, so a list read in between from the old rows is stored under a
generation that is never read again (the same scheme as cases/intake/counts.py). CHOICES_TTL
bounds how stale a list could get if a change bypassed the signals (a queryset `update()`)
or the cache was unreachable when it tried to move the generation on. With the cache down,
the page reads the lists from the database, never fails."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from html import escape
from typing import Any, NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.utils.safestring import SafeString, mark_safe

from cases.agency.models import Artist, Platform
from cases.intake.models import SavedView
from cases.kernel.models import Agency, Membership, Role

log = logging.getLogger(__name__)

CHOICES_TTL = 600  # seconds
# Part of the cache key: a release that changes TriageChoices never reads an older shape.
VERSION = 2


class ArtistChoice(NamedTuple):
    pk: int
    stage_name: str


class PlatformChoice(NamedTuple):
    pk: int
    name: str


class MemberChoice(NamedTuple):
    user_id: int
    username: str


class SavedViewItem(NamedTuple):
    pk: int
    name: str
    query: str
    shared: bool
    owner_id: int


class TriageChoices(NamedTuple):
    """What the filter bar offers in one agency; `saved_views` holds every view of the
    agency, private ones included: `saved_views_for` picks the user's. The name maps are
    what the lists' rows show (cases.intake.list_names): every artist (id -> stage name,
    Hangul name), platform (id -> name) and member of any role (user id -> user name)."""

    artists: list[ArtistChoice]
    platforms: list[PlatformChoice]
    members: list[MemberChoice]
    saved_views: list[SavedViewItem]
    artist_names: dict[int, tuple[str, str]]
    platform_names: dict[int, str]
    member_names: dict[int, str]


def _generation_key(agency_id: int) -> str:
    return f"triage_choices:gen:{agency_id}"


def _bump(agency_id: int) -> None:
    key = _generation_key(agency_id)
    try:
        if not cache.add(key, 1, timeout=None):
            try:
                cache.incr(key)
            except ValueError:  # evicted between add and incr
                cache.set(key, 1, timeout=None)
    except Exception as exc:  # the cache is down: lists may lag by up to CHOICES_TTL
        log.warning("triage choices of agency %s not invalidated (%s)", agency_id, exc)


def triage_choices_changed(*, agency_id: int) -> None:
    """Forget the agency's cached lists now and again once the current transaction commits."""
    _bump(agency_id)
    transaction.on_commit(lambda: _bump(agency_id))


def _compute(agency_id: int) -> TriageChoices:
    artists = Artist.objects.filter(agency_id=agency_id).order_by("stage_name", "id")
    platforms = Platform.objects.filter(agency_id=agency_id).order_by("name", "id")
    # Assignees: members who can write (never read-only viewers).
    members = (
        Membership.objects.filter(agency_id=agency_id)
        .exclude(role=Role.VIEWER)
        .order_by("user__username", "id")
    )
    views = SavedView.objects.filter(agency_id=agency_id).order_by("name", "id")
    artist_rows = list(artists.values_list("id", "stage_name", "name_hangul"))
    platform_rows = [PlatformChoice(*row) for row in platforms.values_list("id", "name")]
    every_member = Membership.objects.filter(agency_id=agency_id)
    return TriageChoices(
        artists=[ArtistChoice(pk, stage_name) for pk, stage_name, _ in artist_rows],
        platforms=platform_rows,
        members=[MemberChoice(*row) for row in members.values_list("user_id", "user__username")],
        saved_views=[
            SavedViewItem(*row)
            for row in views.values_list("id", "name", "query", "shared", "owner_id")
        ],
        artist_names={pk: (stage_name, hangul) for pk, stage_name, hangul in artist_rows},
        platform_names=dict(platform_rows),
        member_names=dict(every_member.values_list("user_id", "user__username")),
    )


def triage_choices_for(agency: Agency) -> TriageChoices:
    """The agency's lists, from the cache of its current generation, read on a miss.
    The agency's creation time keeps a reused id from finding an old agency's lists."""
    try:
        generation = cache.get(_generation_key(agency.pk), 0)
        key = f"triage_choices:{VERSION}:{agency.pk}:{agency.created_at.timestamp()}:{generation}"
        value = cache.get(key)
    except Exception as exc:  # the cache is down: read afresh, never fail the page
        log.warning("triage choices read without the cache (%s)", exc)
        return _compute(agency.pk)
    if value is None:
        value = _compute(agency.pk)
        try:
            cache.set(key, value, timeout=CHOICES_TTL)
        except Exception as exc:
            log.warning("triage choices not cached (%s)", exc)
    return value


def saved_views_for(choices: TriageChoices, user_id: int) -> list[SavedViewItem]:
    """The user's own saved views and those shared in the agency."""
    return [v for v in choices.saved_views if v.owner_id == user_id or v.shared]


def _agency_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    triage_choices_changed(agency_id=instance.agency_id)


def _user_changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    # A log-in saves last_login only: the user name shown in the lists did not change.
    fields = kwargs.get("update_fields")
    if fields is not None and set(fields) <= {"last_login", "password"}:
        return
    agencies = Membership.objects.filter(user_id=instance.pk).values_list("agency_id", flat=True)
    for agency_id in agencies:
        triage_choices_changed(agency_id=agency_id)


def connect_invalidation() -> None:
    for model in (Artist, Platform, Membership, SavedView):
        uid = f"triage_choices_{model.__name__}"
        post_save.connect(_agency_changed, sender=model, dispatch_uid=uid)
        post_delete.connect(_agency_changed, sender=model, dispatch_uid=f"{uid}_delete")
    user = settings.AUTH_USER_MODEL
    post_save.connect(_user_changed, sender=user, dispatch_uid="triage_choices_user")


def options_html(
    choices: Iterable[tuple[Any, Any]], selected: str | Collection[str] | None
) -> SafeString:
    """The <option> elements of a filter-bar list, those whose value the query string names
    selected (one value, or several: statuses); values and labels escaped (a loop with a
    comparison per option in the template was a tenth of the page's rendering)."""
    chosen = {selected} if isinstance(selected, str) else set(selected or ())
    parts = []
    for value, label in choices:
        mark = " selected" if str(value) in chosen else ""
        parts.append(f'<option value="{escape(str(value))}"{mark}>{escape(str(label))}</option>')
    return mark_safe("".join(parts))  # every value and label escaped
