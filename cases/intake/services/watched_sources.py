"""Writes on watched sources: add, change, delete (each audited), and the checks a source's
settings must pass before it is saved."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cases.intake.monitor.models import WatchedSource, WatchedSourceKind
from cases.intake.monitor.parsers import JsonPaths, ParseError, json_paths_check, selector_compile
from cases.kernel.actor import Actor, actor_user
from cases.kernel.audit.services import audit_record
from cases.kernel.models import Agency
from cases.kernel.net.policy import Policy, PolicyRefused, check_url

SOURCE_FIELDS = (
    "name",
    "kind",
    "url",
    "selector",
    "json_items_path",
    "json_url_key",
    "json_text_keys",
    "interval_minutes",
    "active",
    "capture_strong_matches",
)
ALIAS_PLACEHOLDER = "{alias}"
MAX_INTERVAL_MIN = 7 * 24 * 60
_TELEGRAM_NAME = re.compile(r"^/s/[A-Za-z0-9_]{3,64}/?$")


class WatchedSourceError(ValueError):
    """A setting that cannot be saved: `field` names it (None: the whole source)."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def watched_source_policy(extra_headers: tuple[tuple[str, str], ...] = ()) -> Policy:
    """The network policy of every poll: the capture policy's rules and loopback switch,
    the monitor's ports and caps."""
    timeout = float(settings.MONITOR_TIMEOUT_S)
    return Policy(
        allowed_ports=frozenset(settings.MONITOR_ALLOWED_PORTS),
        allow_loopback=settings.CAPTURE_ALLOW_LOOPBACK_FOR_TESTS,
        connect_timeout=min(10.0, timeout),
        read_timeout=timeout,
        total_deadline=timeout,
        max_body_bytes=settings.MONITOR_MAX_BYTES,
        max_decompressed_bytes=settings.MONITOR_MAX_BYTES,
        user_agent="AgencyGuard-Monitor/1.0 (watched sources of a legal team)",
        extra_headers=extra_headers,
    )


def source_host(url: str) -> str:
    """The server a URL names (host and port, lower case): what politeness counts by."""
    parts = urlsplit(url.replace(ALIAS_PLACEHOLDER, "x"))
    host = (parts.hostname or "").lower()
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower(), 0)
    return f"{host}:{port}"


def _split(url: str) -> SplitResult:
    try:
        return urlsplit(url)
    except ValueError as exc:  # "Invalid IPv6 URL", NFKC tricks in the host
        raise WatchedSourceError(
            "url", _("This URL cannot be polled: %(why)s") % {"why": exc}
        ) from exc


def _telegram_url(url: str) -> str:
    """`https://t.me/name` becomes the preview page `https://t.me/s/name`."""
    parts = _split(url)
    if (parts.hostname or "").lower() in ("t.me", "telegram.me") and not parts.path.startswith(
        "/s/"
    ):
        return urlunsplit((parts.scheme, parts.netloc, "/s" + parts.path, "", ""))
    return url


def _check(fields: dict[str, Any]) -> dict[str, Any]:
    """The fields, cleaned; WatchedSourceError for the first one that cannot be used."""
    kind = fields["kind"]
    if kind not in WatchedSourceKind.values:
        raise WatchedSourceError("kind", _("Choose one of the kinds offered."))
    url = fields["url"].strip()
    if kind == WatchedSourceKind.TELEGRAM:
        url = _telegram_url(url)
    has_alias = ALIAS_PLACEHOLDER in url
    if kind == WatchedSourceKind.TEMPLATE and url.count(ALIAS_PLACEHOLDER) != 1:
        raise WatchedSourceError(
            "url", _("A search URL needs {alias} once, where each artist name goes.")
        )
    if has_alias and ALIAS_PLACEHOLDER in _split(url).netloc:
        raise WatchedSourceError(
            "url", _("{alias} goes in the path or the query, not in the host name.")
        )
    if kind != WatchedSourceKind.TEMPLATE and has_alias:
        raise WatchedSourceError(
            "url", _("Only the kind 'Search URL per artist alias' fills in {alias}.")
        )
    try:
        check_url(url.replace(ALIAS_PLACEHOLDER, "alias"), watched_source_policy())
    except PolicyRefused as exc:
        raise WatchedSourceError(
            "url", _("This URL cannot be polled: %(why)s") % {"why": exc.reason}
        ) from exc
    if kind == WatchedSourceKind.TELEGRAM and not _TELEGRAM_NAME.match(urlsplit(url).path):
        raise WatchedSourceError(
            "url", _("A Telegram preview page looks like https://t.me/s/channel_name.")
        )
    selector = fields.get("selector", "").strip()
    if kind in (WatchedSourceKind.HTML, WatchedSourceKind.TEMPLATE):
        if not selector:
            raise WatchedSourceError("selector", _("Give the CSS selector of the post links."))
        try:
            selector_compile(selector)
        except ParseError as exc:
            raise WatchedSourceError("selector", str(exc)) from exc
    paths = JsonPaths(
        items_path=fields.get("json_items_path", "").strip(),
        url_key=fields.get("json_url_key", "").strip(),
        text_keys=_keys(fields.get("json_text_keys", "")),
    )
    if kind == WatchedSourceKind.JSON:
        try:
            json_paths_check(paths)
        except ParseError as exc:
            raise WatchedSourceError("json_items_path", str(exc)) from exc
    interval = int(fields["interval_minutes"])
    if not settings.MONITOR_MIN_INTERVAL_MIN <= interval <= MAX_INTERVAL_MIN:
        raise WatchedSourceError(
            "interval_minutes",
            _("Poll every %(low)s to %(high)s minutes.")
            % {"low": settings.MONITOR_MIN_INTERVAL_MIN, "high": MAX_INTERVAL_MIN},
        )
    name = fields["name"].strip()
    if not name:
        raise WatchedSourceError("name", _("Give the source a name."))
    return {
        "name": name[:120],
        "kind": kind,
        "url": url,
        "selector": selector,
        "json_items_path": paths.items_path,
        "json_url_key": paths.url_key,
        "json_text_keys": ", ".join(paths.text_keys),
        "interval_minutes": interval,
        "active": bool(fields.get("active", True)),
        "capture_strong_matches": bool(fields.get("capture_strong_matches", False)),
    }


def _keys(text: str) -> tuple[str, ...]:
    return tuple(key.strip() for key in text.split(",") if key.strip())


def watched_source_save(
    *, agency: Agency, actor: Actor, source: WatchedSource | None = None, **fields: Any
) -> WatchedSource:
    """Add a source (first poll due now) or change one; the audit event lists the changed
    settings. Raises WatchedSourceError naming the field that cannot be saved."""
    unknown = set(fields) - set(SOURCE_FIELDS)
    if unknown:
        raise TypeError(f"watched_source_save() got unexpected fields: {sorted(unknown)}")
    if source is not None:
        fields = {name: fields.get(name, getattr(source, name)) for name in SOURCE_FIELDS}
    cleaned = _check(fields)
    taken = WatchedSource.objects.filter(agency=agency, name=cleaned["name"])
    if source is not None:
        taken = taken.exclude(pk=source.pk)
    with transaction.atomic():
        if taken.exists():
            raise WatchedSourceError("name", _("Another source already has this name."))
        now = timezone.now()
        if source is None:
            source = WatchedSource.objects.create(
                agency=agency,
                created_by=actor_user(actor),
                host=source_host(cleaned["url"]),
                next_due_at=now,
                **cleaned,
            )
            audit_record(
                agency=agency,
                actor=actor,
                action="watched_source.created",
                obj=source,
                data={**cleaned},
            )
            return source
        source = WatchedSource.objects.select_for_update().get(pk=source.pk, agency=agency)
        changed = {
            name: {"from": getattr(source, name), "to": value}
            for name, value in cleaned.items()
            if getattr(source, name) != value
        }
        if not changed:
            return source
        if "url" in changed or "kind" in changed:
            source.validators = {}  # the old URL's validators say nothing about the new one
            source.host = source_host(cleaned["url"])
        if changed.get("active", {}).get("to") is True:
            source.next_due_at = now  # switched back on: poll soon, not after an old backoff
        for name, value in cleaned.items():
            setattr(source, name, value)
        source.save()
        audit_record(
            agency=agency,
            actor=actor,
            action="watched_source.updated",
            obj=source,
            data={"changed": changed},
        )
    return source


def watched_source_delete(*, source: WatchedSource, actor: Actor) -> None:
    """Delete a source. Its discoveries stay on their findings (with the source's name)."""
    with transaction.atomic():
        audit_record(
            agency=source.agency,
            actor=actor,
            action="watched_source.deleted",
            obj=source,
            data={"name": source.name, "kind": source.kind, "url": source.url},
        )
        source.delete()


def watched_source_poll_soon(*, source: WatchedSource, actor: Actor) -> WatchedSource:
    """Make a source due now (its errors and backoff stay as they are until the poll)."""
    with transaction.atomic():
        WatchedSource.objects.filter(pk=source.pk).update(next_due_at=timezone.now())
        audit_record(
            agency=source.agency,
            actor=actor,
            action="watched_source.poll_requested",
            obj=source,
            data={"name": source.name},
        )
    source.refresh_from_db()
    return source
