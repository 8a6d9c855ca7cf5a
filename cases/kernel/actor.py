"""Who did something: a signed-in user, an anonymous visitor, or the system (no actor).

Services take an `actor` of any of the three kinds. A row's `*_by` foreign key stores only a
signed-in user (actor_user); audit and custody entries also keep a label that still names
the person after the account is removed (actor_label)."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser, User

# The project keeps Django's own user model (docs/decisions.md), so an actor is a `User`.
Actor = User | AnonymousUser | None

SYSTEM_LABEL = "system"
ANONYMOUS_LABEL = "anonymous"


def actor_user(actor: Actor) -> User | None:
    """The user to store in a foreign key: None for the system and for anonymous visitors."""
    if actor is None or not actor.is_authenticated:
        return None
    return actor


def actor_label(actor: Actor) -> str:
    """The name kept with an audit or custody entry: the username, "anonymous" or "system"."""
    if actor is None:
        return SYSTEM_LABEL
    if not actor.is_authenticated:
        return ANONYMOUS_LABEL
    return actor.get_username()


def actor_fields(actor: Actor) -> tuple[User | None, str]:
    """(actor_user, actor_label) for a row that stores both."""
    return actor_user(actor), actor_label(actor)
