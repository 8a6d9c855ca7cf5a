"""`{% fixed %}`: parts of busy pages that depend on nothing but the language, rendered once.

The triage queue carries some fifty translations and links that are the same on every
request in a language (the table head, the bulk bar, the keyboard-shortcut help): rendering
them took about a fifth of the page. `{% fixed "cases/_triage_head.html" can_write=True %}`
renders that template with only the given flags as its context, once per process, language
and flags, and reuses the text. Such a template must not use the request, the user, the
database or a CSRF token (it is rendered without a request); a test holds the triage
fragments to that."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django import template
from django.dispatch import receiver
from django.template.loader import render_to_string
from django.utils.autoreload import file_changed
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


@receiver(file_changed)
def _forget_on_template_change(sender: Any, file_path: Path, **kwargs: Any) -> None:
    """Under runserver, an edited template shows on the next request, as it does without
    this cache (the template loaders are reset then too)."""
    if file_path.suffix == ".html":
        _RENDERED.clear()
