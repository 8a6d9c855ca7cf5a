"""Form widgets shared by every app.

`ChoiceList` replaces `<select multiple>` (which needs Ctrl-click and reads poorly in screen
readers): a list of checkboxes that Django's form template puts in a `<fieldset>` with the
field's label as its `<legend>`. Each box is reachable with Tab and ticked with Space; on long
lists static/js/app.js adds a labelled filter box above it (progressive: without JavaScript
the list simply scrolls)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

# Lists longer than this get the filter box.
FILTER_FROM = 8


class ChoiceList(forms.CheckboxSelectMultiple):
    def render(
        self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None
    ) -> SafeString:
        boxes = super().render(name, value, attrs, renderer)
        return format_html(
            '<div class="choice-list" data-choice-list data-filter-from="{}"'
            ' data-filter-label="{}">{}</div>',
            FILTER_FROM,
            _("Filter the list"),
            boxes,
        )
