"""Fetching a watched source's documents: conditional requests through the safe fetcher,
one parser per kind, a sitemap index followed one level down, and what the server said
about waiting (Retry-After). No database writes: the poll (source_polls.py) records what
came back."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

from django.conf import settings

from cases.intake.monitor.models import WatchedSource, WatchedSourceKind
from cases.intake.monitor.parsers import (
    Item,
    JsonPaths,
    ParseError,
    parse_feed,
    parse_html_listing,
    parse_json_listing,
    parse_sitemap_or_index,
    parse_telegram,
)
from cases.intake.services.watched_sources import watched_source_policy
from cases.kernel.net.fetcher import FetchResult, fetch

# A poll stops fetching further URLs (a template's, a sitemap index's children) after this
# long (the task's soft limit is well above it).
POLL_BUDGET_S = 300.0
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.IGNORECASE)


@dataclass
class Fetched:
    """What the fetches of one poll brought: items, validators to keep, and errors."""

    items: list[Item] = field(default_factory=list)
    validators: dict[str, dict[str, Any]] = field(default_factory=dict)
    not_modified: int = 0
    answered: int = 0
    errors: list[str] = field(default_factory=list)
    tried: set[str] = field(default_factory=set)
    retry_after_s: float = 0.0


def _conditional_headers(validators: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    headers = []
    if validators.get("etag"):
        headers.append(("If-None-Match", validators["etag"]))
    if validators.get("last_modified"):
        headers.append(("If-Modified-Since", validators["last_modified"]))
    return tuple(headers)


def _header(result: FetchResult, name: str) -> str:
    return next((v for k, v in result.headers if k.lower() == name), "")


def _charset(result: FetchResult) -> str | None:
    found = _CHARSET.search(_header(result, "content-type"))
    return found.group(1) if found else None


def _parse(source: WatchedSource, result: FetchResult, url: str) -> tuple[list[Item], list[str]]:
    """(items, child sitemaps to follow)."""
    kind, body, charset = source.kind, result.body, _charset(result)
    if kind == WatchedSourceKind.FEED:
        return parse_feed(body, url), []
    if kind == WatchedSourceKind.SITEMAP:
        return parse_sitemap_or_index(body, url)
    if kind == WatchedSourceKind.TELEGRAM:
        return parse_telegram(body, url, charset), []
    if kind == WatchedSourceKind.JSON:
        keys = tuple(k.strip() for k in source.json_text_keys.split(",") if k.strip())
        paths = JsonPaths(source.json_items_path, source.json_url_key, keys)
        return parse_json_listing(body, url, paths), []
    return parse_html_listing(body, url, source.selector, charset), []  # html and template


def _retry_after(result: FetchResult, now: datetime) -> float:
    """Seconds the server asked us to wait (Retry-After: seconds or an HTTP date), or 0."""
    value = _header(result, "retry-after").strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return 0.0
    return max(0.0, (when - now).total_seconds()) if when.tzinfo else 0.0


def source_fetch(source: WatchedSource, urls: list[str], now: datetime) -> Fetched:
    """Fetch each URL conditionally and parse it. A sitemap index queues its newest child
    sitemaps (MONITOR_SITEMAP_CHILDREN, one level down), also when it answers 304: the
    children it listed are kept with its validators."""
    fetched = Fetched()
    started = time.monotonic()
    queue = [(url, 0) for url in urls]
    for url, depth in queue:
        if time.monotonic() - started > POLL_BUDGET_S:
            fetched.errors.append(f"Stopped after {POLL_BUDGET_S:.0f} s; the rest wait.")
            break
        if url in fetched.tried:
            continue
        known = source.validators.get(url) or {}
        fetched.tried.add(url)
        result = fetch(url, watched_source_policy(_conditional_headers(known)))
        if not result.ok:
            fetched.errors.append(f"{url}: {result.message or result.outcome}")
            continue
        status = result.status_code or 0
        if status == 304:
            fetched.not_modified += 1
            fetched.validators[url] = known
            if depth == 0:
                queue.extend((child, 1) for child in known.get("children", []))
            continue
        if not 200 <= status < 300:
            fetched.errors.append(f"{url}: HTTP {status}")
            if status in (429, 503):
                fetched.retry_after_s = max(fetched.retry_after_s, _retry_after(result, now))
            continue
        fetched.answered += 1
        etag, modified = _header(result, "etag"), _header(result, "last-modified")
        entry: dict[str, Any] = {"etag": etag, "last_modified": modified}
        try:
            items, children = _parse(source, result, result.final_url or url)
        except ParseError as exc:
            fetched.errors.append(f"{url}: {exc}")
            continue  # no validators: fetch it whole next time
        if children and depth == 0:
            entry["children"] = children[: settings.MONITOR_SITEMAP_CHILDREN]
            queue.extend((child, 1) for child in entry["children"])
        elif children:
            fetched.errors.append(f"{url}: a sitemap index inside a sitemap index (not followed)")
        fetched.items.extend(items)
        if etag or modified or "children" in entry:
            fetched.validators[url] = entry
    return fetched
