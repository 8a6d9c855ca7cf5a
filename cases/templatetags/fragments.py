"""`{% fixed %}`: parts of busy pages that depend on nothing but the language, rendered once.

The triage queue carries some fifty translations and links that are the same on every
request in a language (the table head, the bulk bar, the keyboard-shortcut help): rendering
them took about a fifth of the page. `{% fixed "cases/_triage_head.html" can_write=True %}`
renders that template with only the given flags as its context, once per process, language
and flags, and reuses the text. Such a template must not use the request, the user, the
database or a CSRF token (it is rendered without a request); a test holds the triage
fragments to that.

`{% filled "cases/_triage_filter_bar.html" q=request.GET.q mine=... %}` is the same for a
fragment with holes (the filter bar, the saved-view form: some thirty translations and
links around a few values): rendered once per process, language and set of slot names with a
marker in place of each slot, then filled per request with each value, escaped unless it is
already safe HTML. Such a template may only print a slot where it stands: not test it, loop
over it or filter it (the marker would be tested instead); a test compares each filled
fragment with a plain rendering of the same template."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from django import template
from django.dispatch import receiver
from django.template.loader import render_to_string
from django.utils.autoreload import file_changed
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language

register = template.Library()

_RENDERED: dict[tuple[str, str | None, tuple[tuple[str, Any], ...]], SafeString] = {}


@register.simple_tag
def fixed(template_name: str, **flags: Any) -> SafeString:
    key = (template_name, get_language(), tuple(sorted(flags.items())))
    text = _RENDERED.get(key)
    if text is None:
        # render_to_string escapes what it inserts: the result is safe HTML.
        text = _RENDERED[key] = mark_safe(render_to_string(template_name, flags))
    return text


# The marker of a slot: the unit separator is in no template's own text, and escaping leaves
# it and a slot's name as they are.
_MARK = "\x1f{}\x1f"
_SLOT = re.compile("\x1f(\\w+)\x1f")
_FILLED: dict[tuple[str, str | None, tuple[str, ...]], tuple[list[str], list[str]]] = {}


@register.simple_tag
def filled(template_name: str, **slots: Any) -> SafeString:
    key = (template_name, get_language(), tuple(sorted(slots)))
    parts = _FILLED.get(key)
    if parts is None:
        marked = {name: mark_safe(_MARK.format(name)) for name in slots}
        pieces = _SLOT.split(render_to_string(template_name, marked))
        parts = _FILLED[key] = (pieces[0::2], pieces[1::2])  # texts around, slot names
    texts, names = parts
    out = [texts[0]]
    for name, text in zip(names, texts[1:], strict=True):
        value = slots[name]
        out += ("" if value is None else conditional_escape(value), text)
    return mark_safe("".join(out))


@receiver(file_changed)
def _forget_on_template_change(sender: Any, file_path: Path, **kwargs: Any) -> None:
    """Under runserver, an edited template shows on the next request, as it does without
    this cache (the template loaders are reset then too)."""
    if file_path.suffix == ".html":
        _RENDERED.clear()
        _FILLED.clear()
