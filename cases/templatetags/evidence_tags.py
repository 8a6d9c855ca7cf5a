"""Template helpers for the evidence panel, so finding pages only need an include."""

from __future__ import annotations

from typing import Any

from django import template
from django.db.models import QuerySet

from cases.evidence.models import Evidence
from cases.evidence.selectors import evidence_list_for
from cases.evidence.services.observations import ObservationState, finding_observation_state
from cases.evidence.uploads import ACCEPTED, max_upload_bytes
from cases.intake.models import Finding

register = template.Library()
PANEL_LIMIT = 200


@register.simple_tag(takes_context=True)
def finding_evidence(context: dict[str, Any], finding: Finding) -> QuerySet[Evidence]:
    """The finding's evidence, read through the user's selector (never another agency's)."""
    request = context["request"]
    return evidence_list_for(request.user).filter(finding=finding)[:PANEL_LIMIT]


@register.simple_tag
def evidence_upload_accept() -> str:
    """The `accept` attribute of the upload input: a hint for the file picker only; the
    server sniffs the bytes whatever the browser sends."""
    return ",".join(f".{ext}" for file_type in ACCEPTED for ext in file_type.extensions)


@register.simple_tag
def evidence_upload_types() -> str:
    return ", ".join(file_type.label for file_type in ACCEPTED)


@register.simple_tag
def evidence_upload_max_bytes() -> int:
    return max_upload_bytes()


@register.simple_tag
def finding_observation(finding: Finding) -> ObservationState:
    """What the finding's captures observed (the finding page's observation line)."""
    return finding_observation_state(finding)
