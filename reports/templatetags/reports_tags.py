from __future__ import annotations

from typing import Any

from django import template

from cases.templatetags.cases_extras import event_detail
from reports.panel import panel_context

register = template.Library()


@register.inclusion_tag("reports/_dossiers_panel_body.html", takes_context=True)
def case_dossiers_panel(context: template.Context, case: Any) -> dict[str, Any]:
    """The dossier panel of a case page, rendered in place (htmx refreshes it later)."""
    values = panel_context(context["request"], case)
    values["csrf_token"] = context.get("csrf_token")
    return values


@register.filter
def timeline_detail(event: Any) -> str:
    """cases_extras.event_detail as a filter, so a template can test it before printing."""
    return str(event_detail(event))
