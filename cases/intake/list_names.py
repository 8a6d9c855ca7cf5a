"""The names a list page shows beside its findings (the triage queue, the findings API):
the platform's name, the assignee's user name and the artists, added to a page's plain rows
(selectors.finding_list_rows_for) after its single-table query.

The names come from the agency's cached name maps (cases.intake.triage_choices, invalidated
whenever an artist, platform, membership or user name changes), the artists of each finding
from its trigger-kept `artist_ids` (cases/intake/artist_ids_sql.py), read by the page query.
An id the maps lack (a former member assigned long ago, a map read just before a change
committed) is read from the database, so a row never shows a missing or wrong name for want
of a cache entry."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model

from cases.agency.models import Artist, Platform
from cases.intake.artist_ids_sql import artist_ids_parse
from cases.intake.triage_choices import TriageChoices


def _fill(names: dict[int, Any], wanted: set[int], read: Any) -> dict[int, Any]:
    """`names` with the `wanted` ids it lacks read from the database (`read(ids)` gives
    (id, name) pairs); the cached map itself is left as it is."""
    missing = wanted - names.keys()
    if not missing:
        return names
    return {**names, **dict(read(missing))}


def list_rows_named(rows: list[dict[str, Any]], choices: TriageChoices) -> list[dict[str, Any]]:
    """With the agency's `choices` (triage_choices_for), add to each row `platform_name`
    ("" without a platform), `assignee_username` ("" unassigned) and `artists` ({id,
    stage_name, name_hangul}, ordered as the Artist model orders them: stage name, then id).
    The rows are changed in place and returned. A row deleted between the page's queries
    (an artist, a platform, a user) is left out, or named "", never an error."""
    links = {row["id"]: artist_ids_parse(row["artist_ids"]) for row in rows}
    artists = _fill(
        choices.artist_names,
        {pk for ids in links.values() for pk in ids},
        lambda ids: (
            (pk, (stage, hangul))
            for pk, stage, hangul in Artist.objects.filter(pk__in=ids).values_list(
                "id", "stage_name", "name_hangul"
            )
        ),
    )
    platforms = _fill(
        choices.platform_names,
        {row["platform_id"] for row in rows} - {None},
        lambda ids: Platform.objects.filter(pk__in=ids).values_list("id", "name"),
    )
    users = _fill(
        choices.member_names,
        {row["assignee_id"] for row in rows} - {None},
        lambda ids: get_user_model().objects.filter(pk__in=ids).values_list("id", "username"),
    )
    for row in rows:
        platform_id, assignee_id = row["platform_id"], row["assignee_id"]
        row["platform_name"] = "" if platform_id is None else platforms.get(platform_id, "")
        row["assignee_username"] = "" if assignee_id is None else users.get(assignee_id, "")
        named = [(*artists[pk], pk) for pk in links.get(row["id"], ()) if pk in artists]
        row["artists"] = [
            {"id": pk, "stage_name": stage, "name_hangul": hangul}
            for stage, hangul, pk in sorted(named, key=lambda a: (a[0], a[2]))
        ]
    return rows
