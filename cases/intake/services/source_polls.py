"""Polling watched sources: which are due, one poll of one source (claim under the
per-host gate, conditional fetches through the safe fetcher, parsing, recognition,
findings), and the source's state and backoff afterwards.

A poll never sends a notice and never changes an existing finding: a recognised item's URL
is recorded with source `monitor` through finding_record (deduplicated on the canonical
URL), and the reason is kept as a Discovery beside it. A source with
`capture_strong_matches` on asks for a capture of a finding it *created* for an item whose
media match closely (`strong_match_discovered`, in the same transaction): a re-poll, or a
retry after a crash, finds the finding recorded already and asks for nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import quote

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from cases.agency.models import Artist
from cases.agency.services.platforms import PlatformIndex
from cases.intake.canonical import InvalidURL, UrlRules, canonicalize_url
from cases.intake.models import FindingSource
from cases.intake.monitor.models import (
    Discovery,
    WatchedSource,
    WatchedSourceKind,
    WatchedSourceState,
)
from cases.intake.monitor.parsers import Item
from cases.intake.monitor.recognise import (
    AliasIndex,
    ArtistNames,
    RecogniseContext,
    Recognition,
    recognise,
)
from cases.intake.services.findings import finding_record
from cases.intake.services.source_fetch import Fetched, source_fetch
from cases.intake.services.url_rules import platform_index_for, url_rules
from cases.intake.services.watched_sources import ALIAS_PLACEHOLDER
from cases.intake.signals import strong_match_discovered
from cases.kernel.audit.services import audit_record


@dataclass
class PollOutcome:
    """What one poll did. `status`: polled, not_modified, failed, deferred or skipped."""

    status: str
    items_seen: int = 0
    candidates: int = 0
    findings: int = 0
    errors: list[str] = field(default_factory=list)


def watched_sources_due(*, now: datetime | None = None, limit: int | None = None) -> list[int]:
    """Ids of the active sources whose poll is due and not already running, oldest first."""
    now = now or timezone.now()
    lease = now - timedelta(seconds=settings.MONITOR_POLL_LEASE_S)
    due = (
        WatchedSource.objects.filter(active=True)
        .filter(Q(next_due_at__isnull=True) | Q(next_due_at__lte=now))
        .filter(Q(polling_since__isnull=True) | Q(polling_since__lt=lease))
        .order_by(F("next_due_at").asc(nulls_first=True), "pk")
        .values_list("pk", flat=True)
    )
    return list(due[: limit or settings.MONITOR_SWEEP_BATCH])


def _claim(source_id: int, now: datetime) -> tuple[WatchedSource | None, PollOutcome | None]:
    """Mark the source as polling when it is due and its server's gate is open: every
    source of the same server is locked (in id order, so two claims never deadlock) while
    the gate is checked. A closed gate moves the source's next poll to when it opens."""
    lease = now - timedelta(seconds=settings.MONITOR_POLL_LEASE_S)
    host = WatchedSource.objects.filter(pk=source_id).values_list("host", flat=True).first()
    if host is None:
        return None, PollOutcome("skipped", errors=["The source no longer exists."])
    with transaction.atomic():
        same_host = list(WatchedSource.objects.select_for_update().filter(host=host).order_by("pk"))
        source = next((s for s in same_host if s.pk == source_id), None)
        if source is None or not source.active:
            return None, PollOutcome("skipped", errors=["The source is switched off or moved."])
        if source.next_due_at is not None and source.next_due_at > now:
            return None, PollOutcome("skipped", errors=["Not due yet."])
        if source.polling_since is not None and source.polling_since > lease:
            return None, PollOutcome("skipped", errors=["Already being polled."])
        peers = [s for s in same_host if s.pk != source_id]
        gap = timedelta(seconds=settings.MONITOR_HOST_MIN_INTERVAL_S)
        busy = [p for p in peers if p.polling_since is not None and p.polling_since > lease]
        latest = max((p.last_polled_at for p in peers if p.last_polled_at), default=None)
        opens_at = None
        if len(busy) >= settings.MONITOR_HOST_CONCURRENCY:
            opens_at = now + max(gap, timedelta(seconds=5))
        elif latest is not None and latest + gap > now:
            opens_at = latest + gap
        if opens_at is not None:
            source.next_due_at = opens_at
            source.save(update_fields=["next_due_at"])
            return None, PollOutcome("deferred")
        source.polling_since = now
        source.last_polled_at = now
        source.save(update_fields=["polling_since", "last_polled_at"])
    return source, None


def _artist_names(source: WatchedSource) -> list[ArtistNames]:
    artists = Artist.objects.filter(agency_id=source.agency_id, active=True).order_by("pk")
    return [
        ArtistNames(
            artist_id=a.pk,
            names=(
                a.stage_name,
                a.name_hangul,
                a.name_latin,
                *(str(alias) for alias in (a.aliases or []) if alias),
            ),
        )
        for a in artists
    ]


def _urls(source: WatchedSource, names: list[ArtistNames]) -> tuple[list[str], int]:
    """The URLs to fetch, and where a template's rotation starts next time: a template is
    filled with MONITOR_TEMPLATE_MAX_URLS names per poll, from `template_cursor` on and
    round the roster, so every name is searched in turn."""
    if source.kind != WatchedSourceKind.TEMPLATE:
        return [source.url], 0
    filled: dict[str, None] = {}
    for artist in names:
        for name in artist.names:
            if name and name.strip():
                filled[source.url.replace(ALIAS_PLACEHOLDER, quote(name.strip(), safe=""))] = None
    every = list(filled)
    size = settings.MONITOR_TEMPLATE_MAX_URLS
    if len(every) <= size:
        return every, 0
    start = source.template_cursor % len(every)
    chosen = (every[start:] + every[:start])[:size]
    return chosen, (start + size) % len(every)


def _item_key(item: Item, rules: UrlRules) -> str:
    try:
        key = canonicalize_url(item.url, rules)
    except InvalidURL:
        key = item.url
    return hashlib.sha256(key.encode()).hexdigest()[:24]


def _discover(
    source: WatchedSource, item: Item, found: list[Recognition], platforms: PlatformIndex
) -> tuple[bool, bool]:
    """(recorded, created): the item's URL as a finding of source `monitor` with the reason
    kept as a Discovery; an existing finding is left as it is. A new finding of a strong
    match is sent to be captured when the source asks for it."""
    # One reason may come with several artists (a confirmed fake of two): said once.
    reason = "; ".join(dict.fromkeys(r.reason for r in found))
    strong = any(r.strong for r in found)
    artist_ids = {r.artist_id for r in found if r.artist_id is not None}
    artists = Artist.objects.filter(agency_id=source.agency_id, pk__in=artist_ids)
    try:
        with transaction.atomic():
            finding, created = finding_record(
                agency=source.agency,
                url=item.url,
                actor=None,
                source=FindingSource.MONITOR,
                artists=list(artists),
                platforms=platforms,
            )
            # A new finding has no discovery yet, so a capture is asked at most once.
            capture_requested = False
            if created and strong and source.capture_strong_matches:
                answers = strong_match_discovered.send(
                    sender=WatchedSource, finding=finding, source=source
                )
                capture_requested = any(answer is not None for _receiver, answer in answers)
            _discovery, new = Discovery.objects.get_or_create(
                source=source,
                finding=finding,
                defaults={
                    "agency_id": source.agency_id,
                    "source_name": source.name,
                    "item_url": item.url,
                    "reason": reason,
                    "excerpt": " ".join(p for p in (item.title, item.text) if p)[:1000],
                    "media_urls": list(item.media),
                    "created_finding": created,
                    "strong_match": strong,
                    "capture_requested": capture_requested,
                },
            )
            if new:
                audit_record(
                    agency=source.agency,
                    actor=None,
                    action="watched_source.discovered",
                    obj=finding,
                    data={
                        "source": source.pk,
                        "source_name": source.name,
                        "item_url": item.url,
                        "reason": reason,
                        "new_finding": created,
                        "strong_match": strong,
                        "capture_requested": capture_requested,
                    },
                )
    except InvalidURL:
        return False, False
    return True, created


def _backoff(source: WatchedSource, errors_in_a_row: int) -> timedelta:
    base = source.interval_minutes * 60
    return timedelta(seconds=min(base * 2**errors_in_a_row, settings.MONITOR_BACKOFF_MAX_S))


def _finish(
    source: WatchedSource,
    now: datetime,
    fetched: Fetched,
    outcome: PollOutcome,
    keys: list[str],
    cursor: int,
) -> None:
    """The source's state, counters, seen keys and next due time after a poll."""
    with transaction.atomic():
        row = WatchedSource.objects.select_for_update().get(pk=source.pk)
        known = set(row.seen_keys)
        row.seen_keys = (row.seen_keys + [k for k in keys if k not in known])[
            -settings.MONITOR_SEEN_MAX :
        ]
        # Validators of the URLs fetched now replace theirs; a URL not reached (a template's
        # budget ran out) keeps its own.
        kept = {u: v for u, v in row.validators.items() if u not in fetched.tried}
        merged = {**kept, **fetched.validators}
        row.validators = dict(list(merged.items())[-2 * settings.MONITOR_TEMPLATE_MAX_URLS :])
        row.items_seen += outcome.items_seen
        row.candidates += outcome.candidates
        row.findings_created += outcome.findings
        row.polling_since = None
        row.template_cursor = cursor
        if fetched.errors and not fetched.answered and not fetched.not_modified:
            outcome.status = "failed"
            row.consecutive_errors += 1
            row.errors_total += 1
            row.state = WatchedSourceState.FAILING
            row.last_error = "\n".join(fetched.errors)[:2000]
            row.last_result = "failed"
            wait = max(
                _backoff(row, row.consecutive_errors), timedelta(seconds=fetched.retry_after_s)
            )
            row.next_due_at = now + min(wait, timedelta(seconds=settings.MONITOR_BACKOFF_MAX_S))
        else:
            if fetched.errors:  # some URLs of a template failed: shown, no backoff
                row.errors_total += 1
            row.consecutive_errors = 0
            row.state = WatchedSourceState.OK
            row.last_error = "\n".join(fetched.errors)[:2000]
            if not fetched.tried:
                row.last_result = "nothing to fetch (no active artist names for the search URL)"
            elif fetched.answered:
                row.last_result = (
                    f"{outcome.items_seen} new items, {outcome.candidates} recognised, "
                    f"{outcome.findings} new findings"
                )
            else:
                outcome.status = "not_modified"
                row.last_result = "not modified (304)"
            row.next_due_at = now + timedelta(minutes=row.interval_minutes)
        row.save()


def watched_source_poll(*, source_id: int, now: datetime | None = None) -> PollOutcome:
    """Poll one source if it is due and its server's gate is open."""
    now = now or timezone.now()
    source, refused = _claim(source_id, now)
    if source is None:
        assert refused is not None
        return refused
    try:
        outcome = _poll_claimed(source, now)
    except Exception as exc:
        # Never leave the source claimed until its lease runs out: show what happened and
        # back off as for any failed poll, then let the task report the error.
        _release_after_crash(source, now, exc)
        raise
    return outcome


def _poll_claimed(source: WatchedSource, now: datetime) -> PollOutcome:
    names = _artist_names(source)
    urls, cursor = _urls(source, names)
    fetched = source_fetch(source, urls, now)
    platforms = platform_index_for(source.agency)
    rules = url_rules(platforms)
    context = RecogniseContext(agency_id=source.agency_id, aliases=AliasIndex.build(names))
    outcome = PollOutcome("polled", errors=fetched.errors)
    seen = set(source.seen_keys)
    keys: list[str] = []
    for item in fetched.items:
        key = _item_key(item, rules)
        if key in seen:
            continue
        seen.add(key)
        keys.append(key)
        outcome.items_seen += 1
        found = recognise(item, context)
        if not found:
            continue
        recorded, created = _discover(source, item, found, platforms)
        outcome.candidates += int(recorded)
        outcome.findings += int(created)
    _finish(source, now, fetched, outcome, keys, cursor)
    return outcome


def _release_after_crash(source: WatchedSource, now: datetime, exc: Exception) -> None:
    with transaction.atomic():
        row = WatchedSource.objects.select_for_update().get(pk=source.pk)
        row.polling_since = None
        row.consecutive_errors += 1
        row.errors_total += 1
        row.state = WatchedSourceState.FAILING
        row.last_error = f"The poll stopped on an internal error ({type(exc).__name__})."
        row.last_result = "failed"
        row.next_due_at = now + _backoff(row, row.consecutive_errors)
        row.save()
