"""The time filters every template uses (a template built-in: no `{% load %}` needed).

    {{ notice.sent_at|when }}            2026-12-02 20:24 KST
    {{ deadline.due_on|when_date }}      2026-12-02
    {{ capture.started_at|when_evidence }}  2026-12-02 20:24:05 KST (2026-12-02 11:24:05 UTC)

The formats and the zone are in cases.kernel.times (docs/decisions.md "Times")."""

from __future__ import annotations

from typing import Any

from django import template

from cases.kernel import times

register = template.Library()


@register.filter
def when(value: Any) -> str:
    return times.when(value)


@register.filter
def when_date(value: Any) -> str:
    return times.when_date(value)


@register.filter
def when_evidence(value: Any) -> str:
    return times.when_evidence(value)
