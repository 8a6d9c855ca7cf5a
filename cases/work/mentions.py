"""Comment bodies as safe HTML: text escaped, @mentions of the members it names marked up."""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from cases.work.services.comments import MENTION


def comment_html(body: str, mentioned: Iterable[str]) -> SafeString:
    """`body` escaped; an @name is highlighted only when `mentioned` holds it (a member of
    the same agency, resolved when the comment was posted). Everything else is plain text."""
    names = set(mentioned)

    def mark(match: re.Match[str]) -> str:
        text = match.group(0)
        name = match.group(1).rstrip(".")
        if name not in names:
            return text
        return f'<span class="mention">@{name}</span>' + text[len(name) + 1 :]

    escaped = str(escape(body))
    return mark_safe(MENTION.sub(mark, escaped))
