"""The reasons of an import report: stored untranslated (a message id and its parameters as
JSON) and rendered in the reader's language when shown or downloaded.

Reports written before reasons were stored that way hold the English text, parameters
filled in ("unknown artist: Nobody"); `reason_render` matches such a text against the known
messages and renders it like a new one, so an old report reads in Korean too."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from django.utils.translation import gettext
from django.utils.translation import gettext_noop as N_

MALFORMED = N_("malformed CSV (%(error)s)")
NO_URL = N_("no URL in column %(col)s")
SAME_AS_ROW = N_("same URL as row %(row)s")
ALREADY_RECORDED = N_("already recorded")
# A warning, not a rejection: the finding is recorded, the unknown names are left for review.
NOT_ON_ROSTER = N_("artist '%(names)s' not on the roster; left for review")
# Rows of reports written before unknown artists were accepted (they were rejected).
UNKNOWN_ARTIST = N_("unknown artist: %(names)s")

# Every message with parameters that a report row may hold, the URL checks of
# cases.intake.canonical included: the templates old English texts are matched against.
PARAMETERISED = (
    MALFORMED,
    NO_URL,
    SAME_AS_ROW,
    NOT_ON_ROSTER,
    UNKNOWN_ARTIST,
    N_("The host name '%(host)s' is not valid (%(error)s)."),
    N_("The network policy refuses this host: %(reason)s"),
    N_("The host name '%(host)s' is not a public domain name."),
    N_("The URL is longer than %(max)s characters."),
    N_("Only http and https URLs can be recorded (got '%(scheme)s:')."),
    N_("The URL cannot be read (%(error)s)."),
)
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@lru_cache(maxsize=1)
def _legacy_patterns() -> tuple[tuple[str, re.Pattern[str]], ...]:
    patterns = []
    for message in PARAMETERISED:
        parts = _PLACEHOLDER.split(message)  # literal, name, literal, name, ..., literal
        regex = "".join(
            re.escape(part) if i % 2 == 0 else f"(?P<{part}>.*)" for i, part in enumerate(parts)
        )
        patterns.append((message, re.compile(regex, re.DOTALL)))
    return tuple(patterns)


def reason_parse_legacy(text: str) -> tuple[str, dict[str, Any]]:
    """The message id and parameters of an English reason stored with its parameters
    filled in; the text itself (no parameters) when it matches no known message."""
    for message, pattern in _legacy_patterns():
        match = pattern.fullmatch(text)
        if match:
            return message, match.groupdict()
    return text, {}


def reason_render(code: str, params: str) -> str:
    """The reason of a report row in the active language."""
    if not code:
        return ""
    values: dict[str, Any] = json.loads(params) if params else {}
    if not params and "%(" not in code:
        code, values = reason_parse_legacy(code)
    message = gettext(code)
    try:
        return message % values if values else message
    except (KeyError, ValueError, TypeError):  # a translation that lost a placeholder
        return code % values if values else code
