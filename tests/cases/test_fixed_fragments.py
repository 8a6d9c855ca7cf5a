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
    fragments._FILLED[("x.html", "en", ())] = (["old"], [])
    fragments._forget_on_template_change(sender=None, file_path=tmp_path / "x.html")
    assert not fragments._RENDERED and not fragments._FILLED


FILLED = {
    "cases/_triage_filter_bar.html": (
        "q status_options source_options artist_options platform_options member_options "
        "sort_options mine no_artist"
    ),
    "cases/_triage_saved_view_form.html": "csrf query",
}
HOSTILE = ['a"b<script>&amp;', "유나 \x1fq\x1f {{ x }}", "", None]


def test_a_filled_fragment_equals_a_plain_rendering_of_its_template(korean_catalog):  # noqa: F811
    """{% filled %} renders once with markers and fills in the values: the result must be what
    rendering the template with the values gives (each escaped unless safe), in both
    languages, whatever a value holds (quotes, markup, a marker-like character)."""
    from django.template.loader import render_to_string
    from django.utils.safestring import mark_safe

    fragments._FILLED.clear()
    for name, slots in FILLED.items():
        tag = Template(
            "{% load fragments %}{% filled '" + name + "' "
            + " ".join(f"{slot}={slot}" for slot in slots.split()) + " %}"
        )  # fmt: skip
        for language in ("en", "ko"):
            for n, value in enumerate(HOSTILE):
                values = {
                    slot: mark_safe(f'<option value="{n}">x</option>')
                    if slot.endswith("_options")
                    else value
                    for slot in slots.split()
                }
                with translation.override(language):
                    got = tag.render(Context(values))
                    plain = render_to_string(name, {k: v or "" for k, v in values.items()})
                assert got == plain, (name, language, value)
        assert len([key for key in fragments._FILLED if key[0] == name]) == 2  # en, ko


def test_the_filled_triage_fragments_print_their_slots_and_nothing_else():
    """A slot may only be printed where it stands (a test, loop or filter would see the
    marker); nothing from the request but the slots."""
    for name, slots in FILLED.items():
        body = (TEMPLATES / name).read_text().split("{% endcomment %}", 1)[-1]
        used = set(re.findall(r"{{\s*(\w+)\s*}}", body))
        assert used == set(slots.split()), name
        assert not re.search(r"{{[^}]*\|", body) and "{% if" not in body and "{% for" not in body
        for word in ("request", "user", "membership", "perms", "csrf_token"):
            assert not re.search(rf"\b{word}\b", body), (name, word)
