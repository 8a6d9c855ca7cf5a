"""Words instead of machine text, for every template (a template built-in: no `{% load %}`).

    {{ event.action|action_label }}      notice.created → "Notice drafted"
    {{ event.reason|custody_reason }}    kind=upload finding=45 blob=new → a sentence
    {{ run.timings|timings_text }}       {"total": 1234.5, ...} → "1.2 s in all (…)"
    {{ item.at_ms|into_visit }}          1534 → "1.5 s into the visit"
    {{ run.step|detection_step }}        "reading the file" → translated

The codes themselves stay in the database, the API and the logs."""

from __future__ import annotations

import re
from typing import Any

from django import template
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.evidence.models import EvidenceKind
from cases.kernel.audit import labels

register = template.Library()

# What evidence_ingest stores as the reason of a "collected" custody event.
COLLECTED_REASON = re.compile(
    r"^kind=(?P<kind>[a-z_]+)(?: finding=(?P<finding>\d+))?(?: capture=(?P<capture>\d+))?"
    r" blob=(?P<blob>new|existing,verified)$"
)

TIMING_STEPS = {
    "decode": gettext_lazy("reading the file"),
    "faces": gettext_lazy("faces"),
    "classify": gettext_lazy("classification"),
    "provenance": gettext_lazy("provenance signals"),
}

DETECTION_STEPS = {
    "queued": gettext_lazy("Waiting for a detection worker…"),
    "starting": gettext_lazy("Starting"),
    "reading the file": gettext_lazy("Reading the file"),
    "reading provenance signals": gettext_lazy("Reading provenance signals"),
    "loading the detector": gettext_lazy("Loading the detector"),
    "analysing faces": gettext_lazy("Analysing faces"),
    "finding faces": gettext_lazy("Finding faces"),
    "finished": gettext_lazy("Finished"),
}


@register.filter
def action_label(action: str) -> str:
    return labels.action_label(action)


def _kind_label(kind: str) -> str:
    try:
        return str(EvidenceKind(kind).label)
    except ValueError:
        return kind.replace("_", " ").capitalize()


@register.filter
def custody_reason(reason: str | None) -> str:
    """The stored reason of a custody event as a sentence; a person's own words as they are."""
    match = COLLECTED_REASON.match(reason or "")
    if match is None:
        return reason or ""
    values = {
        "kind": _kind_label(match["kind"]),
        "finding": match["finding"],
        "capture": match["capture"],
    }
    if match["finding"] and match["capture"]:
        text = _("%(kind)s collected by capture #%(capture)s for finding #%(finding)s.")
    elif match["finding"]:
        text = _("%(kind)s collected for finding #%(finding)s.")
    elif match["capture"]:
        text = _("%(kind)s collected by capture #%(capture)s.")
    else:
        text = _("%(kind)s collected.")
    if match["blob"] == "new":
        stored = _("The file was stored for the first time.")
    else:
        stored = _(
            "The same file was already stored; its stored copy was checked against its hash."
        )
    return f"{text % values} {stored}"


def seconds_text(ms: Any) -> str:
    """1234.5 (milliseconds) → '1.2 s' (Korean '1.2초')."""
    try:
        value = float(ms) / 1000
    except (TypeError, ValueError):
        return ""
    shown = f"{value:.2f}" if value < 1 else f"{value:.1f}" if value < 100 else f"{value:.0f}"
    return _("%(seconds)s s") % {"seconds": shown}


@register.filter
def into_visit(ms: Any) -> str:
    if ms is None or ms == "":
        return ""
    return _("%(time)s into the visit") % {"time": seconds_text(ms)}


@register.filter
def timings_text(timings: dict[str, Any] | None) -> str:
    """A detection run's step timings as one sentence."""
    if not timings:
        return ""
    steps = [
        f"{TIMING_STEPS.get(step, step.replace('_', ' '))} {seconds_text(ms)}"
        for step, ms in timings.items()
        if step != "total"
    ]
    if "total" not in timings:
        return "; ".join(steps)
    total = _("%(time)s in all") % {"time": seconds_text(timings["total"])}
    return f"{total} ({'; '.join(steps)})" if steps else total


@register.filter
def detection_step(step: str | None) -> str:
    if not step:
        return ""
    return str(DETECTION_STEPS.get(step, step))
