"""The dashboard's finding counts, cached per agency and invalidated on every change.

Counting by status, platform and artist is three GROUP BYs over all of an agency's findings
(about a second at a million), so the result is kept in the cache under a per-agency
generation number. Every service that creates findings, changes a status, a platform or the
artists calls `finding_counts_changed` inside its transaction; the generation moves on then
and again when that transaction commits, so a dashboard computed from a half-done change is
stored under a generation that is never read again. COUNTS_TTL bounds how stale a figure could get
if a future write path forgot the call, or if the cache was unreachable when a change tried
to move the generation on (the change itself is never refused for that: a fan report or an
import must not fail because the cache is down; the dashboard then counts afresh)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from django.db import transaction

T = TypeVar("T")

log = logging.getLogger(__name__)

COUNTS_TTL = 600  # seconds


def _generation_key(agency_id: int) -> str:
    return f"finding_counts:gen:{agency_id}"


def _bump(agency_id: int) -> None:
    key = _generation_key(agency_id)
    try:
        if not cache.add(key, 1, timeout=None):
            try:
                cache.incr(key)
            except ValueError:  # evicted between add and incr
                cache.set(key, 1, timeout=None)
    except Exception as exc:  # the cache is down: figures may lag by up to COUNTS_TTL
        log.warning(
            "finding counts of agency %s not invalidated: cache unreachable (%s)", agency_id, exc
        )


def finding_counts_changed(*, agency_id: int) -> None:
    """Forget the agency's cached counts now and again once the current transaction
    commits (a dashboard computed in between, from the old data, is dropped by the second
    move)."""
    _bump(agency_id)
    transaction.on_commit(lambda: _bump(agency_id))


def finding_counts_cached(agency_id: int, created: float, compute: Callable[[], T]) -> T:
    """The cached counts of the agency's current generation, computed on a miss. `created`
    (the agency's creation time) keeps a reused id from finding an old agency's figures."""
    try:
        generation = cache.get(_generation_key(agency_id), 0)
        key = f"finding_counts:{agency_id}:{created}:{generation}"
        value = cache.get(key)
    except Exception as exc:  # the cache is down: count afresh, never fail the page
        log.warning("finding counts computed without the cache (%s)", exc)
        return compute()
    if value is None:
        value = compute()
        try:
            cache.set(key, value, timeout=COUNTS_TTL)
        except Exception as exc:
            log.warning("finding counts not cached (%s)", exc)
    return value
