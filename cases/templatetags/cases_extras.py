"""Template helpers: human labels for audit actions and statuses."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.agency.models import Artist
from cases.intake.models import Finding, FindingStatus
from cases.intake.selectors import finding_list_for
from cases.kernel.audit import labels
from cases.kernel.models import Role
from cases.legal.models import CaseStatus

register = template.Library()
RECENT_FINDINGS = 20

OBJECT_LABELS = {
    "finding": gettext_lazy("Finding"),
    "case": gettext_lazy("Case"),
    "artist": gettext_lazy("Artist"),
    "group": gettext_lazy("Group"),
    "platform": gettext_lazy("Platform"),
    "removalsignature": gettext_lazy("Removal signature"),
    "membership": gettext_lazy("Staff account"),
    "importjob": gettext_lazy("Import"),
    "fanreport": gettext_lazy("Fan report"),
    "agency": gettext_lazy("Agency"),
    "abuselookup": gettext_lazy("Abuse contact lookup"),
}


def _label(choices: type[Any], value: Any) -> str:
    try:
        return str(choices(value).label)
    except ValueError:
        return str(value)


@register.filter
def action_label(action: str) -> str:
    """'finding.status_changed' → 'Finding status changed' (cases.kernel.audit.labels)."""
    return labels.action_label(action)


@register.filter
def object_label(object_type: str) -> str:
    return str(OBJECT_LABELS.get(object_type, object_type))


@register.filter
def finding_status_label(value: str) -> str:
    return _label(FindingStatus, value)


@register.filter
def case_status_label(value: str) -> str:
    return _label(CaseStatus, value)


@register.filter
def role_label(value: str) -> str:
    return _label(Role, value)


@register.simple_tag
def event_detail(event: Any) -> str:
    """One line of what changed, for timelines: status moves with their reason, linked ids."""
    data = event.data or {}
    if event.action == "finding.status_changed":
        text = (
            f"{_label(FindingStatus, data.get('from'))} → {_label(FindingStatus, data.get('to'))}"
        )
        return f"{text} ({data['reason']})" if data.get("reason") else text
    if event.action in ("case.status_changed", "case.updated") and isinstance(
        data.get("status"), dict
    ):
        status = data["status"]
        return f"{_label(CaseStatus, status.get('from'))} → {_label(CaseStatus, status.get('to'))}"
    if event.action in ("case.findings_linked", "case.findings_unlinked"):
        return ", ".join(f"#{pk}" for pk in data.get("findings", []))
    if event.action == "case.deadline_added":
        return f"{data.get('title', '')} ({data.get('due_on', '')})"
    if event.action == "case.deadline_done":
        return str(data.get("title", ""))
    if event.action == "finding.recorded":
        return str(data.get("url", ""))
    if event.action == "import.finished":
        counts = {
            "created": data.get("created", 0),
            "duplicate": data.get("duplicate", 0),
            "invalid": data.get("invalid", 0),
            "warnings": data.get("warnings", 0),
        }
        if counts["warnings"]:
            return (
                _(
                    "%(created)s created, %(warnings)s with warnings, "
                    "%(duplicate)s duplicates, %(invalid)s invalid"
                )
                % counts
            )
        return _("%(created)s created, %(duplicate)s duplicates, %(invalid)s invalid") % counts
    if event.action == "import.failed_rows_retried":
        return _("%(rows)s rows in import #%(retry)s") % {
            "rows": data.get("rows", 0),
            "retry": data.get("retry", ""),
        }
    if event.action == "membership.updated" and "role" in data:
        role = data["role"]
        return f"{_label(Role, role.get('from'))} → {_label(Role, role.get('to'))}"
    return ""


@register.simple_tag(takes_context=True)
def artist_recent_findings(context: dict[str, Any], artist: Artist) -> list[Finding]:
    """The artist page's most recent findings, read through the user's selector."""
    user = context["request"].user
    findings = finding_list_for(user).filter(artists=artist).order_by("-created_at", "-id")
    return list(findings[:RECENT_FINDINGS])
