"""{% fixed %} (cases/templatetags/fragments.py): page parts rendered once per language."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings
from django.template import Context, Template
from django.utils import translation

from cases.templatetags import fragments
from tests.cases.test_views_i18n import korean_catalog  # noqa: F401 - fixture

TEMPLATES = Path(settings.BASE_DIR) / "templates"
PAGE = Template('{% load fragments %}{% fixed "cases/_triage_table_head.html" can_write=flag %}')


def test_a_fixed_fragment_is_rendered_once_per_language_and_flags(monkeypatch, korean_catalog):  # noqa: F811
    fragments._RENDERED.clear()
    calls = []
    real = fragments.render_to_string
    monkeypatch.setattr(
        fragments, "render_to_string", lambda *a, **k: calls.append(a) or real(*a, **k)
    )
    with translation.override("en"):
        english = PAGE.render(Context({"flag": True}))
        assert PAGE.render(Context({"flag": True})) == english
        without = PAGE.render(Context({"flag": False}))
    with translation.override("ko"):
        korean = PAGE.render(Context({"flag": True}))
    assert len(calls) == 3  # en+True once (then reused), en+False, ko+True
    assert "Recorded" in english and "Recorded" not in korean
    assert "data-select-all" in english and "data-select-all" not in without


def test_fixed_fragments_use_nothing_from_the_request():
    """Rendered without a request and shared by every user: no CSRF token, request, user or
    database object may be in them (only their flags)."""
    names = set()
    for page in TEMPLATES.rglob("*.html"):
        names |= set(re.findall(r'{% fixed "([^"]+)"', page.read_text()))
    assert "cases/_triage_shortcut_help.html" in names and len(names) >= 5
    for name in names:
        source = (TEMPLATES / name).read_text()
        body = source.split("{% endcomment %}", 1)[-1]
        for text in ("csrf", "{% with"):
            assert text not in body, (name, text)
        for word in ("request", "user", "membership", "perms"):  # a URL name may hold one
            assert not re.search(rf"\b{word}\b", body), (name, word)


def test_an_edited_template_is_rendered_again(tmp_path):
    fragments._RENDERED[("x.html", "en", ())] = "old"  # type: ignore[assignment]
    fragments._forget_on_template_change(sender=None, file_path=tmp_path / "x.py")
    assert fragments._RENDERED  # a Python file: the process restarts anyway
    fragments._forget_on_template_change(sender=None, file_path=tmp_path / "x.html")
    assert not fragments._RENDERED
