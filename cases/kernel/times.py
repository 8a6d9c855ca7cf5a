"""One way to show a time, everywhere a person reads one (pages, notices, dossiers, CSV).

Times are shown in the agency's time zone (the active zone: settings.TIME_ZONE, Asia/Seoul by
default) with the zone's label, in one date and one date-time format per language:

    English  2026-12-02 20:24 KST          date 2026-12-02
    Korean   2026년 12월 2일 20:24 KST      date 2026년 12월 2일

Evidence times (captures, hashes, custody, audit entries in a dossier) add UTC, the zone
courts and platforms compare against: "2026-12-02 20:24:05 KST (2026-12-02 11:24:05 UTC)".
The API stays ISO 8601 in UTC; CSV exports use `csv_time` and say the zone in the header.

Plain f-strings, not Django's DateFormat: the triage queue formats two times per row."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any

from django.utils import timezone
from django.utils.translation import get_language


def _korean() -> bool:
    return (get_language() or "").startswith("ko")


def _offset_label(offset: timedelta | None) -> str:
    """'UTC+9', 'UTC+5:30', 'UTC-3': for zones whose database entry has no abbreviation."""
    minutes = int((offset or timedelta()).total_seconds() // 60)
    if minutes == 0:
        return "UTC"
    sign = "+" if minutes > 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def zone_label(value: datetime) -> str:
    """The zone's abbreviation ('KST', 'UTC', 'CET'), or 'UTC+7' where the time zone database
    only has a number ('+07')."""
    name = value.tzname() or ""
    if not name or name[0] in "+-" or name.startswith(("GMT+", "GMT-")):
        return _offset_label(value.utcoffset())
    return name


def _date_text(value: date, korean: bool) -> str:
    if korean:
        return f"{value.year}년 {value.month}월 {value.day}일"
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def _local(value: datetime) -> datetime:
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    return timezone.localtime(value)


def _parsed(value: Any) -> Any:
    """An ISO 8601 string (a time read back from JSON: an anchor record) as a datetime."""
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def when(value: Any, *, seconds: bool = False) -> str:
    """A date-time in the agency's zone with its label; a date as a date; None as ''."""
    if value is None or value == "":
        return ""
    value = _parsed(value)
    if not isinstance(value, datetime):
        return when_date(value)
    return _shown(_local(value), _korean(), seconds)


def _shown(local: datetime, korean: bool, seconds: bool = False) -> str:
    """The one date-time format, of a time already in the zone it is shown in."""
    clock = f"{local.hour:02d}:{local.minute:02d}"
    if seconds:
        clock += f":{local.second:02d}"
    return f"{_date_text(local, korean)} {clock} {zone_label(local)}"


def when_many() -> Callable[[datetime | None], str]:
    """`when` for the many times of one page (the triage queue's rows): the zone and the
    language looked up once, each distinct minute formatted once (rows imported together
    share theirs). A test holds it to `when` in each language."""
    zone, korean = timezone.get_current_timezone(), _korean()
    seen: dict[datetime, str] = {}

    def short(value: datetime | None) -> str:
        if value is None:
            return ""
        if timezone.is_naive(value):
            return when(value)
        minute = value.replace(second=0, microsecond=0)
        text = seen.get(minute)
        if text is None:
            text = seen[minute] = _shown(minute.astimezone(zone), korean)
        return text

    return short


def when_date(value: Any) -> str:
    """A calendar date (a deadline, a publication day); a date-time by its local date."""
    if value is None or value == "":
        return ""
    value = _parsed(value)
    if isinstance(value, datetime):
        value = _local(value)
    if not isinstance(value, date):
        return str(value)
    return _date_text(value, _korean())


def when_evidence(value: Any) -> str:
    """An evidence time, to the second, with UTC alongside (once, where the zone is UTC)."""
    value = _parsed(value)
    if not isinstance(value, datetime):
        return when(value)
    shown = when(value, seconds=True)
    if _local(value).utcoffset() == timedelta():
        return shown
    utc = value.astimezone(UTC)
    return f"{shown} ({utc:%Y-%m-%d %H:%M:%S} UTC)"


def csv_time(value: datetime | None) -> str:
    """One cell of a CSV export: 'YYYY-MM-DD HH:MM:SS' in the agency's zone, which the
    column header names (`csv_zone_header`)."""
    if value is None:
        return ""
    return f"{_local(value):%Y-%m-%d %H:%M:%S}"


def csv_zone_header(title: str) -> str:
    """'Recorded (Asia/Seoul, KST)': the zone a CSV column's times are in."""
    name, label = timezone.get_current_timezone_name(), zone_label(timezone.localtime())
    return f"{title} ({name})" if name == label else f"{title} ({name}, {label})"


@lru_cache(maxsize=64)
def _zone(name: str) -> tzinfo | None:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def zone_named(name: str) -> tzinfo | None:
    """The zone of an IANA name; None (the deployment's TIME_ZONE) for an empty or unknown
    one: a name the time zone database no longer has must not break a page."""
    return _zone(name) if name else None


def agency_zone(agency: Any) -> timezone.override:
    """Show times in the agency's zone inside the block (notices and dossiers rendered by a
    worker, where no request activated it)."""
    return timezone.override(zone_named(getattr(agency, "time_zone", "") or ""))
