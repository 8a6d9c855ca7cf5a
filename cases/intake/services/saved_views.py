"""Saved views of the triage queue: a name for a set of filters, private or shared."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.http import QueryDict

from cases.intake.models import SavedView
from cases.kernel.models import Agency

# Only the queue's own filters and sort are kept: never the page number, never junk.
SAVED_PARAMS = ("q", "status", "source", "artist", "platform", "assignee", "mine", "sort")


def saved_view_query(raw: str) -> str:
    """The query string to store: the known filters of `raw`, in a fixed order."""
    given = QueryDict(raw[:2000])
    kept = QueryDict(mutable=True)
    for name in SAVED_PARAMS:
        values = [v for v in given.getlist(name) if v]
        if values:
            kept.setlist(name, values)
    return kept.urlencode()[:2000]


def saved_view_save(
    *, agency: Agency, owner: User, name: str, query: str, shared: bool
) -> SavedView:
    """Create the owner's view of that name, or replace its filters."""
    view, _created = SavedView.objects.update_or_create(
        agency=agency,
        owner=owner,
        name=name.strip()[:100],
        defaults={"query": saved_view_query(query), "shared": shared},
    )
    return view


def saved_view_delete(*, view: SavedView) -> None:
    view.delete()
