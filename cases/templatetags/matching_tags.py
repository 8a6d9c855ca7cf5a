"""Template helpers for the matches panel (finding page) and the exchange-bank panel (evidence
page), so each page needs only an include or a tag."""

from __future__ import annotations

from typing import Any

from django import template

from cases.evidence.models import Evidence
from cases.intake.models import Finding
from cases.kernel.tenancy import agency_for, can_write
from cases.matching.models import PartnerMatch
from cases.matching.selectors import FindingMatches, finding_matches, partner_matches_of_finding
from cases.matching.services.bank import bank_status_of
from cases.matching.views.bank import BankLabelsForm

register = template.Library()


@register.simple_tag(takes_context=True)
def finding_matches_for(context: dict[str, Any], finding: Finding) -> FindingMatches:
    """The finding's re-upload matches, for a member of the finding's agency only."""
    agency = agency_for(context["request"].user)
    if agency is None or finding.agency_id != agency.pk:
        return FindingMatches()
    return finding_matches(finding=finding)


@register.simple_tag(takes_context=True)
def finding_partner_matches_for(context: dict[str, Any], finding: Finding) -> list[PartnerMatch]:
    """The finding's matches with partners' exchange signals, for its agency's members only."""
    agency = agency_for(context["request"].user)
    if agency is None or finding.agency_id != agency.pk:
        return []
    return partner_matches_of_finding(finding=finding)


@register.inclusion_tag("cases/_bank_panel.html", takes_context=True)
def bank_panel(context: template.Context, evidence: Evidence) -> dict[str, Any]:
    """{% bank_panel evidence %}: the item's place in the agency's exchange bank (confirmed,
    published or withheld and why, its labels) and, for a member who may write, the labels
    form. Nothing for anyone outside the item's agency."""
    request = context["request"]
    agency = agency_for(request.user)
    if agency is None or evidence.agency_id != agency.pk:
        return {"status": None}
    status = bank_status_of(evidence=evidence)
    chosen = [label for label in status.labels if label != "deepfake"]
    return {
        "status": status,
        "evidence": evidence,
        "form": BankLabelsForm(initial={"labels": chosen}),
        "can_write": can_write(request.user),
        "csrf_token": context.get("csrf_token"),
        "request": request,
    }
