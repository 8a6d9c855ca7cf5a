"""The one actor rule (cases.kernel.actor): a signed-in user is stored and named; an
anonymous visitor and the system are stored as nobody, and named apart."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import transaction
from django.utils.functional import SimpleLazyObject

from cases.kernel.actor import actor_fields, actor_label, actor_user
from cases.kernel.audit.services import audit_record


@pytest.mark.django_db
def test_a_signed_in_user_is_stored_and_named(bob) -> None:  # type: ignore[no-untyped-def]
    assert actor_user(bob) is bob
    assert actor_label(bob) == "bob"
    assert actor_fields(bob) == (bob, "bob")


@pytest.mark.django_db
def test_request_user_is_a_lazy_object_and_still_counts(bob) -> None:  # type: ignore[no-untyped-def]
    lazy = SimpleLazyObject(lambda: bob)
    assert actor_user(lazy) is lazy
    assert actor_label(lazy) == "bob"


def test_anonymous_visitors_and_the_system_are_nobody_and_named_apart() -> None:
    assert actor_fields(AnonymousUser()) == (None, "anonymous")
    assert actor_fields(None) == (None, "system")


@pytest.mark.django_db
def test_the_audit_trail_applies_the_rule(agency, bob) -> None:  # type: ignore[no-untyped-def]
    cases = ((bob, bob, "bob"), (AnonymousUser(), None, "anonymous"), (None, None, "system"))
    for actor, user, label in cases:
        with transaction.atomic():
            event = audit_record(agency=agency, actor=actor, action="test.actor")
        assert (event.actor, event.actor_label) == (user, label)
