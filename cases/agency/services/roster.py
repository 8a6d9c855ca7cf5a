"""Groups and artists of an agency's roster."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from cases.agency.models import Artist, Group
from cases.kernel.audit.services import audit_record
from cases.kernel.models import Agency

ARTIST_FIELDS = ("stage_name", "name_hangul", "name_latin", "legal_name", "aliases", "active")


def group_save(*, agency: Agency, actor: User, group: Group | None = None, **fields: Any) -> Group:
    """Create a group (group=None) or change one."""
    with transaction.atomic():
        created = group is None
        group = group or Group(agency=agency)
        for name in ("name", "name_hangul", "active"):
            if name in fields:
                setattr(group, name, fields[name])
        group.save()
        audit_record(
            agency=agency,
            actor=actor,
            action="group.created" if created else "group.updated",
            obj=group,
            data={"name": group.name},
        )
    return group


def artist_save(
    *,
    agency: Agency,
    actor: User,
    artist: Artist | None = None,
    groups: Iterable[Group] | None = None,
    **fields: Any,
) -> Artist:
    """Create an artist (artist=None) or change one. The audit event names the changed
    fields but never the legal name's value."""
    with transaction.atomic():
        created = artist is None
        artist = artist or Artist(agency=agency)
        changed = [
            name
            for name in ARTIST_FIELDS
            if name in fields and getattr(artist, name) != fields[name]
        ]
        for name in changed:
            setattr(artist, name, fields[name])
        artist.save()
        if groups is not None:
            artist.groups.set([g for g in groups if g.agency_id == agency.pk])
        audit_record(
            agency=agency,
            actor=actor,
            action="artist.created" if created else "artist.updated",
            obj=artist,
            data={"stage_name": artist.stage_name, "changed": changed},
        )
    return artist


def group_delete(*, group: Group, actor: User) -> None:
    """Remove a group; its artists stay (only their membership in the group goes). The
    audit event keeps the name, since the row itself is gone afterwards."""
    with transaction.atomic():
        audit_record(
            agency=group.agency,
            actor=actor,
            action="group.deleted",
            obj=group,
            data={
                "name": group.name,
                "artists": sorted(group.artists.values_list("pk", flat=True)),
            },
        )
        group.delete()
