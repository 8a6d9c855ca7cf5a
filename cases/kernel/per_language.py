"""Values built from translations, computed once per process and language.

A list page translates the same labels on every request (the statuses of a choice list, the
sort orders, the notice statuses): each lazy label costs a translation lookup through the
request's thread-local language, about fifty on a triage page. `per_language` keeps the
result of a function without arguments per active language, as `{% fixed %}`
(cases/templatetags/fragments.py) keeps rendered fragments. The function must depend on the
language only (no request, user or database), and its result must not be changed by
callers (return tuples, frozen data or dicts nobody writes to)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import TypeVar

from django.utils.translation import get_language

T = TypeVar("T")


def per_language(build: Callable[[], T]) -> Callable[[], T]:
    built: dict[str | None, T] = {}

    @functools.wraps(build)
    def cached() -> T:
        language = get_language()
        value = built.get(language)
        if value is None:
            value = built[language] = build()
        return value

    return cached


def choice_pairs(choices: Iterable[tuple[object, object]]) -> tuple[tuple[str, str], ...]:
    """(value, label) pairs with both as plain strings in the active language."""
    return tuple((str(value), str(label)) for value, label in choices)
